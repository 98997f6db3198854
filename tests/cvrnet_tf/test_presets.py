"""CVR-Net presets: the authors' code [CVR-T], [CVR-P12], the paper (as far as retrieved) and leak-free."""

from __future__ import annotations

import re

import pytest

from cvrnet_tf import FAMILY, PRESETS, PUBLISHED_PARAMS, TASKS, preset_for_task
from cxr_core.family import Preset


def _leaves(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and not k.startswith(("early_stopping", "reduce_lr", "optimizer", "options", "fold_strata")):
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_authors_code_values():
    v = PRESETS["authors_code"].values
    assert v["protocol"]["n_folds"] == 5 and v["protocol"]["split_style"] == "authors_contiguous"
    assert v["protocol"]["validation"] == "test_fold" and v["protocol"]["group_by_patient"] is False
    t = v["train"]
    assert t["optimizer"] == {"name": "adamax", "learning_rate": 1e-4, "options": {"beta_1": 0.9, "beta_2": 0.999}}
    assert (t["batch_size"], t["epochs"], t["class_weight"]) == (8, 200, "round_max_over_count")
    assert t["early_stopping"] == {"monitor": "val_accuracy", "patience": 13, "mode": "max"}
    assert t["reduce_lr"] == {"monitor": "val_accuracy", "factor": 0.1, "patience": 4, "mode": "max", "min_lr": 1e-8}
    assert (t["checkpoint"], t["checkpoint_monitor"]) == ("best", "val_accuracy")
    assert t["mixed_precision"] is None and t["bn_moving_variance"] == "keras231_tf2"  # float32; Keras 2.3.1 BN
    a = v["augment"]
    assert a["horizontal_flip"] and a["vertical_flip"] and not a["on_validation"]
    assert all(a[k] == 0 for k in ("rotation_range", "width_shift_range", "height_shift_range", "shear_range",
                                   "zoom_range", "channel_shift_range"))
    assert v["preprocess"] == {"image_size": [224, 224], "resize_method": "nearest", "scaling": "raw255", "cache": False}
    assert v["model"]["options"] == {"resnet": "legacy", "input_scaling": "raw255"}
    assert v["model"]["num_classes"] == 2 and v["data"]["class_names"] == ["NOR", "NCP"]


def test_leak_free_selects_on_an_inner_split_with_patient_grouped_folds():
    p = PRESETS["leak_free"].values["protocol"]
    assert p["validation"] == "inner_split" and p["group_by_patient"] is True and p["split_style"] == "stratified"
    paper = PRESETS["paper"].values["protocol"]
    assert (paper["n_folds"], paper["validation"], paper["split_style"]) == (5, "test_fold", "stratified")
    assert "NOT RETRIEVED" in PRESETS["paper"].description


def test_every_differing_field_has_a_tagged_note():
    leaves = [_leaves(dict(p.values)) for p in PRESETS.values()]
    keys = set().union(*(leaf.keys() for leaf in leaves))
    differing = sorted(k for k in keys if len({repr(leaf.get(k)) for leaf in leaves}) > 1)
    assert differing, "the presets should differ"
    for preset in PRESETS.values():
        assert isinstance(preset, Preset)
        for key in differing:
            assert key in preset.notes, f"{preset.name}: no note for {key}"
            assert re.search(r"\[[A-Za-z0-9-]+\]", preset.notes[key]), f"{preset.name}.{key}: note lacks a source tag"


@pytest.mark.parametrize("task", [1, 2, 3, 4, 5])
def test_preset_for_task(task):
    for base in ("paper", "authors_code", "leak_free"):
        preset = preset_for_task(base, task)
        assert preset.values["data"]["class_names"] == list(TASKS[task].class_names)
        assert preset.values["model"]["num_classes"] == TASKS[task].num_classes
        assert preset.values["extra"]["expected_params"] == list(PUBLISHED_PARAMS[TASKS[task].num_classes])
        assert f"Task-{task}" in preset.values["published"]["source"]
    assert PRESETS["authors_code"].values["data"]["class_names"] == ["NOR", "NCP"]  # base untouched


def test_published_params_are_consistent():
    assert PUBLISHED_PARAMS[2] == (48_602_610, 48_494_962, 107_648)
    for n in (3, 4):  # 65 parameters per extra class in each of the five softmax layers
        assert PUBLISHED_PARAMS[n][0] == PUBLISHED_PARAMS[2][0] + 5 * 65 * (n - 2)
        assert PUBLISHED_PARAMS[n][0] == PUBLISHED_PARAMS[n][1] + PUBLISHED_PARAMS[n][2]
    assert FAMILY.preset("authors_code") is PRESETS["authors_code"]


def _task1_table(n_covid: int):
    """Task-1 as the authors' folders hold it: 01_NOR = Kermany normal (IM-*) + pneumonia (person*_bacteria_*,
    person*_virus_*) files, 03_NCP = COVID-19 files; Kermany's own file-name scheme."""
    import pandas as pd

    from cxr_core.data.tables.sample_table import table_from_rows

    names = ([f"01_NOR/IM-{i:04d}-0001.jpeg" for i in range(1583)]
             + [f"01_NOR/person{i}_bacteria_{i}.jpeg" for i in range(2780)]
             + [f"01_NOR/person{i}_virus_{i}.jpeg" for i in range(1493)]
             + [f"03_NCP/covid-{i}.png" for i in range(n_covid)])
    rows = [{"sample_id": n, "path": "/data/" + n, "label": "NCP" if n.startswith("03") else "NOR",
             "patient_id": None, "source": None} for n in names]
    return table_from_rows(rows, ("NOR", "NCP"), [])


def test_authors_task1_folds_have_the_sizes_of_the_saved_run():
    """The saved Task-1 run [CVR-T]: test fold 1,176 NOR / 101 NCP, train 5,080 (class weight 11.7 = 4,680 / 400).
    authors_code's folds (per sub-class, 501 COVID, INFERRED) give exactly that fold; one NOR class cannot."""
    import numpy as np

    from cxr_core.config.experiment import resolve_config
    from cxr_core.protocol.split_files import fold_assignments

    cfg = resolve_config({"preset": "cvrnet/authors_code"})
    table = _task1_table(501)
    folds = fold_assignments(cfg, table)
    nor = np.bincount(folds[table.labels == 0], minlength=5).tolist()
    ncp = np.bincount(folds[table.labels == 1], minlength=5).tolist()
    assert (nor, ncp) == ([1176, 1170, 1170, 1170, 1170], [101, 100, 100, 100, 100])
    train = folds != 0
    assert (int((train & (table.labels == 0)).sum()), int((train & (table.labels == 1)).sum())) == (4680, 400)
    assert round(4680 / 400, 2) == 11.7 and int(train.sum()) == 5080
    flat = resolve_config({"preset": "cvrnet/authors_code", "protocol": {"fold_strata": None}})
    assert 1176 not in np.bincount(fold_assignments(flat, table)[table.labels == 0]).tolist()  # 1,172 / 1,171


def test_fold_strata_pattern_on_the_real_kermany_names(shared_data):
    """The preset's pattern marks every real Kermany pneumonia file and no normal one."""
    from cvrnet_tf.presets import AUTHORS_FOLD_STRATA

    ((regex, _),) = AUTHORS_FOLD_STRATA.items()
    root = shared_data / "sources" / "kermany-224" / "chest_xray" / "train"
    pneumonia, normal = list((root / "PNEUMONIA").iterdir()), list((root / "NORMAL").iterdir())
    assert len(pneumonia) > 1000 and len(normal) > 300
    assert all(re.search(regex, p.name) for p in pneumonia)
    assert not any(re.search(regex, p.name) for p in normal)


def test_task5_authors_code_resaves_jpegs_as_pil():
    """[CVR-P3] re-saves every CT image with PIL: on in authors_code's Task-5 and the Task-5 experiments only."""
    from pathlib import Path

    from cxr_core.config.experiment import load_config

    assert preset_for_task("authors_code", 5).values["preprocess"]["jpeg_resave_quality"] == 75
    assert preset_for_task("paper", 5).values["preprocess"].get("jpeg_resave_quality") is None
    assert preset_for_task("authors_code", 1).values["preprocess"].get("jpeg_resave_quality") is None
    root = Path(__file__).resolve().parents[2] / "experiments" / "cvrnet"
    for name in ("task5.yaml", "task5_official_valid.yaml"):
        assert load_config(root / name).preprocess.jpeg_resave_quality == 75
    assert load_config(root / "task1.yaml").preprocess.jpeg_resave_quality is None
