"""cxr_core.family: families found by entry point or registered at run time, and what they hand the core."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cxr_core.config import experiment as C
from cxr_core.evaluation import metrics as M
from cxr_core.report import published as P
from cxr_core.report import markdown as R
from cxr_core.report.comparison import metric_row, ours, summary_frame
from cxr_core.data.tables.readers import read_samples
from cxr_core.data.tables.sample_table import table_from_rows
from cxr_core.family import (
    DataPart,
    ModelFamily,
    ModelPart,
    Preset,
    PublishedPart,
    TrainingPart,
    available_families,
    family_packages,
    get_family,
    register_family,
    unregister_family,
)

TINY_TABLE = P.PublishedTable(
    key="tiny/accuracy", title="Tiny accuracy", source="[TEST]", layout="summary", units="percent",
    index=("tiny",), columns=("Accuracy",), rows=((50.0,),), notes="a test table")


def _accuracy_layout(key, config, folds, pooled, *, selection=None):
    rows = [metric_row("Accuracy", ours(pooled, folds, "accuracy"), 50.0 + selection.get("shift", 0), "[TEST]")]
    return summary_frame(rows), f"tiny layout of {key}", [f"selection {selection}"]


def _reader(source, *, class_names=None, image_dir=None, drop_duplicates=False, on_error="raise"):
    rows = [{"sample_id": f"{source}/{i}.png", "path": f"{source}/{i}.png", "label": "a" if i % 2 else "b"}
            for i in range(4)]
    return table_from_rows(rows, tuple(class_names or ("a", "b")))


def _tiny(**fields) -> ModelFamily:
    """The test family; ``fields`` of :class:`ModelPart` (e.g. ``smoke_image_size``) go to its model part."""
    model_fields = {k: fields.pop(k) for k in list(fields) if k in {f.name for f in dataclasses.fields(ModelPart)}}
    values = {"model": {"num_classes": 2}, "data": {"class_names": ["a", "b"]}}
    base = dict(name="tiny",
                model=ModelPart(**({"build": lambda **kw: None, "smoke_image_size": 32} | model_fields)),
                presets={"paper": Preset("paper", values, {"model.num_classes": "two classes [TEST]"})},
                published=PublishedPart(tables=(TINY_TABLE,), aliases={r"^tiny/acc(?P<shift>\d)$": "tiny/accuracy"},
                                        report_layouts={"tiny/accuracy": _accuracy_layout}),
                data=DataPart(readers={"tinyformat": _reader}),
                training=TrainingPart(smoke_overrides={"extra": {"tiny": {"phase_epochs": 1}}}))
    return ModelFamily(**(base | fields))


@pytest.fixture
def tiny():
    family = register_family(_tiny())
    yield family
    unregister_family("tiny")


def test_register_get_and_unregister(tiny):
    assert get_family("tiny") is tiny
    assert "tiny" in available_families() and {"coronet", "cvrnet", "coronanet"} <= set(available_families())
    with pytest.raises(ValueError, match="already registered"):
        register_family(_tiny())
    replacement = register_family(_tiny(description="second"), replace=True)
    assert get_family("tiny") is replacement
    with pytest.raises(ValueError, match="already registered"):
        register_family(_tiny(name="coronet"))  # an entry point's name
    with pytest.raises(TypeError, match="ModelFamily"):
        register_family("tiny")
    assert "cxr_core" not in family_packages() and "coronet_tf" in family_packages()


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(KeyError, match="registered families: .*coronet"):
        get_family("no_such_family")
    with pytest.raises(KeyError, match="was not registered"):
        unregister_family("no_such_family")
    assert "tiny" not in available_families()


def test_preset_and_smoke_come_from_the_family(tiny):
    cfg = C.resolve_config({"preset": "tiny/paper"})
    assert cfg.model.family == "tiny" and cfg.model.num_classes == 2
    smoke = C.smoke_overrides(cfg)
    assert smoke["preprocess"]["image_size"] == [32, 32]
    assert smoke["extra"] == {"tiny": {"phase_epochs": 1}}
    assert smoke["train"]["epochs"] == 1
    register_family(_tiny(smoke_image_size=None), replace=True)
    assert "image_size" not in C.smoke_overrides(cfg)["preprocess"]


def test_published_tables_aliases_and_layouts_of_a_registered_family(tiny, tmp_path):
    assert "tiny/accuracy" in P.list_tables()
    table = P.published_table("tiny/accuracy")
    assert table.loc["tiny", "Accuracy"] == 50.0 and table.attrs["source"] == "[TEST]"
    assert P.find_published("tiny/accuracy") == (tiny, TINY_TABLE)
    assert P.resolve_published_key("tiny/acc7") == ("tiny/accuracy", {"shift": 7})
    assert P.resolve_published_key("tiny/accuracy") == ("tiny/accuracy", {})
    assert "tiny/accuracy" in R.summary_keys()
    y = np.array([0, 1] * 10)
    folds = [M.evaluate_predictions(y, np.eye(2)[y], ["a", "b"], n_boot=0)]
    R.write_run_report(tmp_path, {"name": "t"}, folds, "tiny/acc3", n_boot=0)
    text = (tmp_path / "report.md").read_text()
    assert "Published reference (tiny/accuracy): tiny layout of tiny/accuracy" in text
    assert "selection {'shift': 3}" in text
    assert "**+47.00**" in text  # 100 - (50 + 3), in bold


def test_read_samples_uses_a_family_reader(tiny):
    table = read_samples("somewhere", format="tinyformat", class_names=["b", "a"])
    assert table.class_names == ("b", "a") and len(table) == 4
    with pytest.raises(ValueError, match="tinyformat"):
        read_samples("somewhere", format="nonexistent")


@pytest.mark.parametrize("per_branch", [True, False])
def test_explain_branches_comes_from_the_family(tiny, per_branch, monkeypatch, tmp_path, cxr4_mini):
    import keras

    from cxr_core.explain import overlays as E

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    heads = []
    for k in (1, 2):
        feat = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name=f"tap{k}")(inp)
        pooled = keras.layers.GlobalAveragePooling2D()(feat)
        heads.append(keras.layers.Dense(2, activation="softmax", name=f"head{k}")(pooled))
    model = keras.Model(inp, keras.layers.Average()(heads))
    register_family(_tiny(explain_branches=per_branch, last_conv_layer="tap1"), replace=True)
    panels = []
    monkeypatch.setattr(E, "plot_overlay", lambda image, shown, path, title=None: panels.append(shown) or path)
    path = sorted((cxr4_mini / "covid").glob("*.png"))[0]
    pre = {"image_size": [16, 16], "resize_method": "nearest", "scaling": "rescale01"}
    E.explain_images("tiny", model, [path], tmp_path, pre, class_names=["a", "b"])
    titles = [title.split("\n")[0] for title, _ in panels[0]]
    assert titles == (["branch 1: tap1 (16x16)", "branch 2: tap2 (16x16)", "averaged output"] if per_branch
                      else ["tiny, layer tap1"])


def test_lazy_reference_imports_on_call_and_names_its_module():
    import json

    from cxr_core.family import Lazy, lazy, resolved

    ref = lazy("json:dumps")
    assert isinstance(ref, Lazy) and ref.module == "json"
    assert ref.resolve() is json.dumps and resolved(ref) is json.dumps and ref([1]) == "[1]"
    assert resolved(json.loads) is json.loads
    with pytest.raises(ValueError, match="package.module:function"):
        lazy("json.dumps")


@pytest.mark.parametrize("name", ["coronet", "cvrnet", "coronanet"])
def test_every_paper_family_is_light_and_loads_weights_through_its_weights_module(name):
    """setup.cfg's entry points name ``<package>.family:FAMILY`` (an environment installed earlier may still
    name ``<package>:FAMILY``, which the package's lazy ``__getattr__`` hands the same light record); the
    builder and the weight hooks are lazy references, and every paper package has a ``weights.py``
    whose ``load_weights`` is the family's load hook."""
    import importlib
    import importlib.util

    from cxr_core.family import Lazy, _source_checkout_entry_points

    family = get_family(name)
    target = _source_checkout_entry_points()[name]
    package = target.split(".")[0]
    assert target == f"{package}.family:FAMILY" and getattr(importlib.import_module(package), "FAMILY") is family
    assert isinstance(family.model.build, Lazy) and family.model.build.module.startswith(package + ".")
    assert family.weights.load == Lazy(f"{package}.weights:load_weights")
    assert family.weights.recognise == Lazy(f"{package}.weights:recognise_weights")
    assert importlib.util.find_spec(f"{package}.weights") is not None
    assert family.published.tables and family.data.recipes and family.presets
