"""CVR-Net tasks [S2], [CVR-P12]: classes, folders, published figures, readers on the real test samples."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from cvrnet_tf.tasks import (
    MINI_CLASS_MAP,
    TASKS,
    get_task,
    kermany_kind,
    read_kermany,
    read_mini_for_task,
    read_task_folders,
)


def test_task_table():
    assert [TASKS[t].class_names for t in range(1, 6)] == [
        ("NOR", "NCP"), ("NOR", "CPN", "NCP"), ("NOR", "CPB", "CPV", "NCP"), ("NOR", "CPN", "NCP"), ("NOR", "NCP")]
    assert {t: (TASKS[t].published["f1"], TASKS[t].published["accuracy"]) for t in TASKS} == {
        1: (0.997, 0.998), 2: (0.963, 0.964), 3: (0.816, 0.820), 4: (0.961, 0.961), 5: (0.780, 0.780)}
    assert TASKS[1].folders["03_NCP"] == TASKS[1].folders["02_NCP"] == "NCP"
    assert TASKS[3].folders == {"01_NOR": "NOR", "02_CPB": "CPB", "03_CPV": "CPV", "04_NCP": "NCP"}
    assert sum(TASKS[2].counts.values()) == 6356 and TASKS[1].counts["NOR"] == 1583 + 4273
    assert TASKS[3].display_names == ("class: NOR", "class: CPB", "class: CPV", "class: NCP")
    assert get_task("Task-3") is get_task("task3") is get_task(3) is TASKS[3]
    assert TASKS[5].modality == "CT"
    with pytest.raises(KeyError, match="unknown CVR-Net task"):
        get_task(6)


def test_kermany_file_names():
    assert kermany_kind("person1_bacteria_1.jpeg") == "CPB"
    assert kermany_kind("kermany_person100_virus_184.jpeg") == "CPV"
    assert kermany_kind("IM-0115-0001.jpeg") is None


def _manifest(root):
    return pd.read_csv(root / "MANIFEST.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("task", [1, 2, 3, 4])
def test_cxr4_mini_for_each_xray_task(cxr4_mini, task):
    table = read_mini_for_task(cxr4_mini, task)
    manifest = _manifest(cxr4_mini)
    by_class = manifest["class"].value_counts().to_dict()
    expected = {}
    for cls, n in by_class.items():
        target = MINI_CLASS_MAP[task][cls]
        expected[target] = expected.get(target, 0) + n
    assert table.class_counts().to_dict() == {c: expected.get(c, 0) for c in TASKS[task].class_names}
    assert table.class_names == TASKS[task].class_names
    assert all(os.path.isfile(p) for p in table.frame["path"])
    labels = dict(zip(table.frame["sample_id"], table.frame["label"]))
    for rel, cls in zip(manifest["path"], manifest["class"]):
        assert labels[rel] == MINI_CLASS_MAP[task][cls]
    patients = dict(zip(table.frame["sample_id"], table.frame["patient_id"]))
    assert [patients[rel] for rel in manifest["path"]] == list(manifest["patient_id"]), "patient ids carried over"
    if task == 1:  # Task-1 NOR = every non-COVID image (docs/PAPERS.md §2.3)
        assert table.class_counts()["NOR"] == len(manifest) - by_class["covid"]


def test_ct2_mini_for_task5(ct2_mini, cxr4_mini):
    table = read_mini_for_task(ct2_mini, 5)
    assert table.class_counts().to_dict() == {"NOR": 30, "NCP": 30}
    assert sorted(os.listdir(ct2_mini / "covid")) == sorted(
        os.path.basename(p) for p, l in zip(table.frame["path"], table.frame["label"]) if l == "NCP")
    with pytest.raises(ValueError, match="no mapping for task5"):
        read_mini_for_task(cxr4_mini, 5)


@pytest.fixture
def kermany_tree(cxr4_mini, tmp_path):
    """Kermany's layout (NORMAL/, PNEUMONIA/ with bacteria and virus mixed) as symlinks to cxr4-mini."""
    for sub, classes in (("PNEUMONIA", ("pneumonia_bacterial", "pneumonia_viral")), ("NORMAL", ("normal",)),
                         ("COVID", ("covid",))):
        (tmp_path / sub).mkdir()
        for cls in classes:
            for f in sorted((cxr4_mini / cls).iterdir()):
                (tmp_path / sub / f.name).symlink_to(f)
    return tmp_path


def test_read_kermany_builds_cpb_cpv_from_file_names(kermany_tree, cxr4_mini):
    n_bac = len(os.listdir(cxr4_mini / "pneumonia_bacterial"))
    n_vir = len(os.listdir(cxr4_mini / "pneumonia_viral"))
    n_nor = len(os.listdir(cxr4_mini / "normal"))
    n_cov = len(os.listdir(cxr4_mini / "covid"))
    t3 = read_kermany(kermany_tree / "PNEUMONIA", normal_dir=kermany_tree / "NORMAL",
                      covid_dir=kermany_tree / "COVID", task=3)
    assert t3.class_counts().to_dict() == {"NOR": n_nor, "CPB": n_bac, "CPV": n_vir, "NCP": n_cov}
    bac = set(os.listdir(cxr4_mini / "pneumonia_bacterial"))
    for sid, label in zip(t3.frame["sample_id"], t3.frame["label"]):
        if sid.startswith("PNEUMONIA/"):
            assert label == ("CPB" if os.path.basename(sid) in bac else "CPV")
    pneu = t3.frame[t3.frame["sample_id"].str.startswith("PNEUMONIA/")]
    assert pneu["patient_id"].str.fullmatch(r"kermany-person\d+_(bacteria|virus)").all()  # kermany_patient_id
    t2 = read_kermany(kermany_tree / "PNEUMONIA", normal_dir=kermany_tree / "NORMAL", task=2)
    assert t2.class_counts().to_dict() == {"NOR": n_nor, "CPN": n_bac + n_vir, "NCP": 0}
    t1 = read_kermany(kermany_tree / "PNEUMONIA", normal_dir=kermany_tree / "NORMAL",
                      covid_dir=kermany_tree / "COVID", task=1)
    assert t1.class_counts().to_dict() == {"NOR": n_nor + n_bac + n_vir, "NCP": n_cov}


def test_read_kermany_unmarked_file(kermany_tree):
    odd = kermany_tree / "PNEUMONIA" / "unmarked.jpeg"
    odd.symlink_to(next((kermany_tree / "NORMAL").iterdir()).resolve())
    with pytest.raises(ValueError, match="unmarked.jpeg.*_bacteria_"):
        read_kermany(kermany_tree / "PNEUMONIA", task=3)
    table = read_kermany(kermany_tree / "PNEUMONIA", task=3, on_error="skip")
    assert list(table.skipped["path"]) == [str(odd)]


def test_read_task_folders(cxr4_mini, tmp_path):
    for folder, cls in (("01_NOR", "normal"), ("02_NCP", "covid")):
        (tmp_path / folder).mkdir()
        for f in sorted((cxr4_mini / cls).iterdir())[:3]:
            (tmp_path / folder / f.name).symlink_to(f)
    table = read_task_folders(tmp_path, 1)
    assert table.class_counts().to_dict() == {"NOR": 3, "NCP": 3}
    assert list(table.frame["label_index"]) == [0, 0, 0, 1, 1, 1]
    (tmp_path / "99_XXX").mkdir()
    with pytest.raises(ValueError, match="99_XXX"):
        read_task_folders(tmp_path, 1)
