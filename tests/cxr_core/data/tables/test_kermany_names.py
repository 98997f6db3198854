"""The one Kermany patient-id rule, checked on Kermany's real release and through every reader."""

from __future__ import annotations

from pathlib import Path

import shutil

import pandas as pd
import pytest

from cxr_core.data.build.sources import read_kermany
from cxr_core.data.tables.kermany_names import kermany_patient_id, kermany_pneumonia_kind
from cxr_core.data.tables.readers import read_class_folders


def test_kermany_patient_id_examples():
    assert kermany_patient_id("person1_bacteria_1.jpeg") == "kermany-person1_bacteria"
    assert kermany_patient_id("person1_virus_6.jpeg") == "kermany-person1_virus"
    assert kermany_patient_id("person447_virus_921_1.jpeg") == "kermany-person447_virus"
    assert kermany_patient_id("a/b/kermany_person100_virus_184.jpeg") == "kermany-person100_virus"
    assert kermany_patient_id("IM-0115-0001.jpeg") == "kermany-IM-0115"
    assert kermany_patient_id("IM-0011-0001-0002.jpeg") == "kermany-IM-0011"
    assert kermany_patient_id("NORMAL2-IM-1427-0001.jpeg") == "kermany-NORMAL2-IM-1427"
    for other in ("scan7.jpeg", "person1.jpeg", "covid_IM-0001-0001.png", "IM-0001.jpeg"):
        assert kermany_patient_id(other) is None


def test_kermany_pneumonia_kind_examples():
    """The kind of the names that have a pneumonia patient id, and of no other name."""
    assert kermany_pneumonia_kind("person1_bacteria_1.jpeg") == "bacteria"
    assert kermany_pneumonia_kind("a/b/kermany_person100_VIRUS_184.jpeg") == "virus"
    assert kermany_pneumonia_kind("person447_virus_921_1.jpeg") == "virus"
    for other in ("scan7.jpeg", "IM-0115-0001.jpeg", "x_bacteria_1.jpeg", "person1_bacteria.jpeg"):
        assert kermany_pneumonia_kind(other) is None


def _release(shared_data):
    root = shared_data / "sources" / "kermany-224" / "chest_xray"
    if not root.is_dir():
        pytest.skip(f"Kermany's release not at {root}")
    return root


def _straddling(ids: pd.DataFrame) -> int:
    """Patients with files in both Kermany's train and test folders (its split is by patient)."""
    return int((ids.groupby("id")["split"].nunique() > 1).sum())


def test_rule_keeps_kermanys_patient_split_on_the_real_release(shared_data):
    root = _release(shared_data)
    files = [(split, p.name) for split in ("train", "test") for cls in ("NORMAL", "PNEUMONIA")
             for p in sorted((root / split / cls).iterdir())]
    assert len(files) == 5840
    ours = pd.DataFrame({"split": [s for s, _ in files], "id": [kermany_patient_id(n) for _, n in files]})
    assert ours["id"].notna().all(), "every file of the release follows Kermany's naming"
    assert _straddling(ours) == 0
    # The alternatives the docstring rejects would put patients on both sides of Kermany's split.
    without_kind = ours.assign(id=ours["id"].str.replace(r"_(bacteria|virus)$", "", regex=True))
    without_series = ours.assign(id=ours["id"].str.replace("NORMAL2-", "", regex=False))
    assert _straddling(without_kind) == 170
    assert _straddling(without_series) == 94


def test_class_folders_group_as_the_manifest_does(cxr4_mini):
    """cxr4-mini's MANIFEST names each Kermany image's patient (its own namespace): the rule on the file
    names alone gives the same groups (the reader itself takes the MANIFEST's ids when one is there)."""
    table = read_class_folders(cxr4_mini)
    frame = table.frame.assign(patient_id=[kermany_patient_id(Path(p).name) for p in table.frame["path"]])
    kermany = frame[frame["patient_id"].notna()]
    assert len(kermany) == 142 and kermany["sample_id"].str.contains("/kermany_").all()
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv", dtype=str)
    theirs = kermany["sample_id"].map(dict(zip(manifest["path"], manifest["patient_id"])))
    ours_groups = set(kermany.groupby("patient_id")["sample_id"].apply(frozenset))
    their_groups = set(kermany.assign(p=theirs).groupby("p")["sample_id"].apply(frozenset))
    assert ours_groups == their_groups


def test_every_reader_gives_the_same_id(tmp_path, shared_data):
    """``data build``'s source reader, ``data.format: kermany`` and class folders: one answer."""
    from cvrnet_tf.readers import read_kermany_folder

    root = _release(shared_data)
    names = {"NORMAL": ["IM-0001-0001.jpeg", "NORMAL2-IM-0007-0001.jpeg"],
             "PNEUMONIA": ["person100_bacteria_475.jpeg", "person1_virus_6.jpeg"]}
    tree = tmp_path / "chest_xray" / "test"
    for cls, files in names.items():
        (tree / cls).mkdir(parents=True)
        for name in files:
            shutil.copyfile(root / "test" / cls / name, tree / cls / name)
    expected = {name: kermany_patient_id(name) for files in names.values() for name in files}
    for frame in (read_kermany(tmp_path).frame, read_kermany_folder(tree).frame, read_class_folders(tree).frame):
        got = {p.rsplit("/", 1)[-1]: pid for p, pid in zip(frame["path"].map(str), frame["patient_id"])}
        assert got == expected
