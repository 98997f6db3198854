"""Readers of the public sources in their download layouts (fixtures built from ../shared/data)."""

from __future__ import annotations

import shutil

import pytest

from cxr_core.data.build.layout import SourceError, safe_relative_name
from cxr_core.data.build.ozturk_release import read_ozturk
from cxr_core.data.build.sources import (
    kermany_label,
    read_actualmed,
    read_covid_ct,
    read_figure1,
    read_ieee8023,
    read_kermany,
    read_radiography,
    read_rsna,
)
from tests.cxr_core.data import source_fixtures as F


def test_ieee8023_keeps_xray_rows_and_names_every_skip(tmp_path, shared_data):
    s = read_ieee8023(F.make_ieee8023(tmp_path / "covid-chestxray-dataset", shared_data, n_covid=6))
    assert s.label_counts() == {"COVID-19": 7, "Streptococcus": 1}  # 6 frontal + 1 lateral, one bacterial
    assert s.skipped_counts() == {"file not found": 1, "not an X-ray": 1}
    assert set(s.frame["patient_id"]) >= {"ieee8023-100", "ieee8023-103", "ieee8023-7"}
    assert (s.frame["view"] == "L").sum() == 1


def test_ieee8023_early_layout_without_modality_column(tmp_path, shared_data):
    root = tmp_path / "old"
    (root / "images").mkdir(parents=True)
    src = F.mini_files(shared_data, "cxr4-mini/covid")[0]
    (root / "images" / "a.png").write_bytes(src.read_bytes())
    (root / "images" / "b.png").write_bytes(src.read_bytes())
    (root / "metadata.csv").write_text(
        "Patientid,offset,sex,age,finding,survival,view,date,location,filename,doi,url,license,notes\n"
        "1,,,,COVID-19,,PA,2020,,a.png,,,,\n5,,,,ARDS,,PA,2017,,b.png,,,,\n6,,,,COVID-19,,CT,2020,,c.png,,,,\n")
    s = read_ieee8023(root)
    assert s.label_counts() == {"ARDS": 1, "COVID-19": 1}
    assert s.skipped_counts() == {"not an X-ray": 1}
    assert "early" in s.layout


def test_ieee8023_refuses_escaping_file_names_with_the_line(tmp_path, shared_data):
    root = F.make_ieee8023(tmp_path / "c", shared_data, n_covid=2)
    text = (root / "metadata.csv").read_text().replace("strep.jpeg", "../../etc/passwd")
    (root / "metadata.csv").write_text(text)
    with pytest.raises(SourceError, match=r"metadata.csv line 5: path '../../etc/passwd' refused"):
        read_ieee8023(root)


@pytest.mark.parametrize("name", ["/etc/passwd", "C:\\x.png", "\\\\server\\x.png", "a/../../b.png", "..\\b.png", " "])
def test_safe_relative_name_refuses(name):
    with pytest.raises(SourceError):
        safe_relative_name(name, "f line 3")


def test_kermany_names_give_labels():
    assert kermany_label("person1_bacteria_1.jpeg", "PNEUMONIA") == "bacterial"
    assert kermany_label("person1623_virus_2813.jpeg", "PNEUMONIA") == "viral"
    assert kermany_label("NORMAL2-IM-1427-0001.jpeg", "NORMAL") == "normal"
    assert kermany_label("scan7.jpeg", "PNEUMONIA") is None


def test_kermany_kaggle_archive_with_nested_copy(tmp_path, shared_data):
    s = read_kermany(F.make_kermany(tmp_path / "kaggle", shared_data, n=5))
    assert s.label_counts() == {"bacterial": 5, "normal": 5, "viral": 5}
    counts = s.skipped_counts()
    assert counts["not an image file"] == 1  # .DS_Store
    assert counts["pneumonia file name not personN_bacteria_M / personN_virus_M"] == 1
    assert any(k.startswith("second copy of the Kermany tree") for k in counts)
    assert set(s.frame["split"]) == {"train", "test", "val"}
    assert "kermany-NORMAL2-IM-1427" in set(s.frame["patient_id"])  # kermany_patient_id, the one rule
    assert {"kermany-person1_bacteria", "kermany-person1_virus"} <= set(s.frame["patient_id"])
    assert not s.frame["source_path"].str.contains("__MACOSX").any()


def test_covid_ct_official_lists(tmp_path, shared_data):
    s = read_covid_ct(F.make_covid_ct(tmp_path / "COVID-CT", shared_data, n=8))
    by = s.frame.groupby(["label", "split"]).size().to_dict()
    assert by == {("COVID", ""): 1, ("COVID", "test"): 2, ("COVID", "train"): 4, ("COVID", "val"): 1,
                  ("NonCOVID", ""): 1, ("NonCOVID", "test"): 2, ("NonCOVID", "train"): 4, ("NonCOVID", "val"): 1}
    assert s.skipped_counts() == {"listed but not found": 2}
    assert any("testCT_COVID.txt line 3" in r for r in s.skipped["reason"])


def test_figure1_and_actualmed(tmp_path, shared_data):
    f1 = read_figure1(F.make_agchung(tmp_path / "fig1", shared_data, "figure1"))
    am = read_actualmed(F.make_agchung(tmp_path / "am", shared_data, "actualmed"))
    assert f1.label_counts() == {"COVID-19": 3} and am.label_counts() == {"COVID-19": 3}
    assert f1.skipped_counts() == {"empty finding cell in metadata.csv": 1}
    assert am.frame["patient_id"].str.startswith("actualmed-ANON").all()


def test_rsna_one_row_per_patient_and_dicom_paths(tmp_path, shared_data):
    s = read_rsna(F.make_rsna(tmp_path / "rsna", shared_data))
    assert s.label_counts() == {"Lung Opacity": 1, "No Lung Opacity / Not Normal": 1, "Normal": 1}
    assert s.frame["path"].str.endswith(".dcm").all()
    assert s.skipped_counts() == {"file not found": 1}


def test_radiography_skips_masks(tmp_path, shared_data):
    s = read_radiography(F.make_radiography(tmp_path / "archive", shared_data))
    assert s.label_counts() == {"COVID": 2, "Normal": 2}
    assert s.skipped_counts() == {"segmentation mask (masks/)": 4}


# ------------------------------------------------------------------------------ Ozturk et al.'s release
def _ozturk(tmp_path, shared):
    covid = F.mini_files(shared, "cxr4-mini/covid")[:2]
    return F.make_ozturk(tmp_path / "COVID-19", shared, ["a.jpeg", "b.png"], covid)


def test_ozturk_release_labels_and_chestxray8_patients(tmp_path, shared_data):
    root = _ozturk(tmp_path, shared_data)
    for given in (root, root / "X-Ray Image DataSet", tmp_path):  # the clone, the data folder, a folder above
        s = read_ozturk(given)
        assert s.label_counts() == {"Covid-19": 2, "No_findings": 4, "Pneumonia": 3}
    frame = s.frame.set_index("file_name")
    assert frame.at["00001684_011.png", "patient_id"] == frame.at["00001684_000.png", "patient_id"] == "chestxray8-00001684"
    assert frame.at["00000099_002.png", "patient_id"] == "chestxray8-00000099"
    assert frame.loc[["a.jpeg", "b.png", "scan.png"], "patient_id"].isna().all()  # no patient guessed
    assert s.skipped_counts() == {"not an image file": 1}
    assert s.notes == ("1 images of the ChestX-ray8 folders have no ChestX-ray8 name (no patient id): "
                       "COVID-19/X-Ray Image DataSet/Pneumonia/scan.png",)
    # the two collections behind the three classes, so class x source checks can see the confound
    assert s.frame.groupby("label")["source"].unique().map(list).to_dict() == {
        "Covid-19": ["ozturk-ieee8023"], "No_findings": ["ozturk-chestxray8"], "Pneumonia": ["ozturk-chestxray8"]}


def test_ozturk_release_errors_name_the_missing_folder(tmp_path, shared_data):
    root = _ozturk(tmp_path, shared_data)
    shutil.rmtree(root / "X-Ray Image DataSet" / "Pneumonia")
    with pytest.raises(SourceError, match=r"has no 'Pneumonia' folder"):
        read_ozturk(root)
    with pytest.raises(SourceError, match=r"no folder holds the release's class folders"):
        read_ozturk(root / "X-Ray Image DataSet" / "Covid-19")


def test_ozturk_two_copies_are_refused_not_one_dropped(tmp_path, shared_data):
    """The notebook's Train/ and Valid/ folders each hold the three class folders: reading one would drop
    the other without a word."""
    root = _ozturk(tmp_path, shared_data) / "X-Ray Image DataSet"
    for part in ("Train", "Valid"):
        shutil.copytree(root, tmp_path / "split" / part, ignore=shutil.ignore_patterns("README.md"))
    with pytest.raises(SourceError, match=r"2 folders hold the release's class folders \(Train, Valid\); give the one"):
        read_ozturk(tmp_path / "split")
    assert read_ozturk(tmp_path / "split" / "Valid").label_counts()["No_findings"] == 4
