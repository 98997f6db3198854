"""CORONA-Net presets [CR, S0, PG]: the published choices, and a note for every difference."""

from __future__ import annotations

from typing import Any, Mapping

import pytest

from coronanet_tf import FAMILY, PRESETS
from coronanet_tf.presets import preset_values
from cxr_core.family import ModelFamily, Preset, get_family

SECTIONS = {"data", "preprocess", "augment", "model", "train", "protocol", "published", "extra"}


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_family_is_registered():
    assert isinstance(FAMILY, ModelFamily) and FAMILY.name == "coronanet"
    assert get_family("coronanet") is FAMILY
    assert set(FAMILY.presets) == {"paper", "authors_code"}
    assert all(isinstance(p, Preset) for p in PRESETS.values())


def test_sections_and_same_keys():
    paper, code = (_flatten(PRESETS[n].values) for n in ("paper", "authors_code"))
    assert {k.split(".")[0] for k in code} == SECTIONS
    assert set(paper) == set(code)


def test_every_difference_has_a_note_with_a_source_tag():
    paper, code = (_flatten(PRESETS[n].values) for n in ("paper", "authors_code"))
    differing = {k for k in code if paper[k] != code[k]}
    assert differing  # the presets are not identical
    for preset in PRESETS.values():
        missing = differing - set(preset.notes)
        assert not missing, f"{preset.name}: no note for {sorted(missing)}"
        assert all("[" in note for note in preset.notes.values())


@pytest.mark.parametrize("name", ["paper", "authors_code"])
def test_common_values(name):
    v = preset_values(name)
    assert v["preprocess"] == {"image_size": [224, 224], "resize_method": "shorter_side_center_crop",
                               "scaling": "imagenet", "cache": False}
    assert v["model"]["family"] == "coronanet" and v["model"]["num_classes"] == 3
    assert v["train"]["batch_size"] == 12
    assert v["train"]["optimizer"] == {"name": "adam_l2", "learning_rate": 1e-4,
                                       "options": {"l2": 1e-4, "epsilon": 1e-8}}
    assert v["train"]["loss"] == "categorical_crossentropy_from_logits"
    assert (v["train"]["checkpoint"], v["train"]["checkpoint_monitor"]) == ("best", "val_accuracy")
    cn = v["extra"]["coronanet"]
    sched = cn["lr_schedule"]
    assert (sched["warmup_epochs"], sched["step_epochs"], sched["extra_drop_epoch"],
            sched["gamma"], sched["reference_batch"], sched["world_size"]) == (5, 30, 80, 0.1, 256, 1)
    assert cn["phases"] == ["reinit", "classify"]
    assert cn["reinit"]["target"] == "normalised_input" and cn["reinit"]["epochs"] is None
    # [total, trainable, non_trainable]; trainable docs/PAPERS.md §3.1, non-trainable = BN moving statistics
    assert cn["expected_params"]["classification"] == [15_021_699 + 8_448, 15_021_699, 8_448]
    assert cn["expected_params"]["with_decoder"] == [15_050_059 + 8_800, 15_050_059, 8_800]


def test_differences_between_presets():
    paper, code = preset_values("paper"), preset_values("authors_code")
    assert code["data"]["class_names"] == ["COVID-19", "normal", "pneumonia"]
    assert paper["data"]["class_names"] == ["normal", "pneumonia", "COVID-19"]
    assert code["augment"]["enabled"] is False
    assert paper["augment"]["enabled"] is True
    assert paper["augment"]["rotation_range"] == 45.0 and paper["augment"]["horizontal_flip"] is True
    assert not paper["augment"]["vertical_flip"]
    assert code["protocol"]["validation"] == "test_fold"
    assert paper["protocol"]["validation"] == "inner_split"
    assert code["model"]["options"]["with_decoder"] is True  # kept and ignored [CR]
    assert paper["model"]["options"]["with_decoder"] is False  # removed [S0, PG]


def test_presets_are_frozen():
    with pytest.raises(TypeError):
        PRESETS["paper"].values["train"]["batch_size"] = 1  # type: ignore[index]
    values = preset_values("paper")
    values["train"]["batch_size"] = 1
    assert PRESETS["paper"].values["train"]["batch_size"] == 12


@pytest.mark.parametrize("name", ["paper", "authors_code"])
def test_presets_resolve_as_experiment_configs(name):
    """The presets pass cxr_core's config checks (unknown keys rejected) and coronanet's own."""
    from coronanet_tf.settings import settings_from_config
    from cxr_core.config.experiment import resolve_config
    from cxr_core.training.optimizers import make_optimizer

    cfg = resolve_config({"preset": f"coronanet/{name}"})
    settings = settings_from_config(cfg)
    assert settings.phases == ("reinit", "classify")
    assert cfg.train.optimizer.name == "adam_l2"
    opt = make_optimizer(cfg.train.optimizer.name, 1e-4, cfg.train.optimizer.options)
    assert type(opt).__name__ == "AdamL2" and opt.l2 == 1e-4
    assert cfg.published.table == "coronanet/table5_ppv"
