"""Patient-id rules per source, on the real COVIDx split files in ../shared/data/sources (issue 17)."""

from __future__ import annotations

import pytest

from cxr_core.data.build.covidx import read_covidx_rows
from cxr_core.data.tables.covidx import read_covidx_split
from cxr_core.data.tables.patient_ids import (chestxray8_patient_id, covidx_patient_id, figure1_patient_id,
                                              ieee8023_patient_id)


@pytest.fixture(scope="module")
def labels_dir(real_sources):
    return real_sources / "COVID-Net" / "labels"


def test_figure1_letters_are_one_patient_on_the_real_split_file(labels_dir):
    rows = [r for r in read_covidx_rows(labels_dir / "train_COVIDx9A.txt") if r.source == "fig1"]
    patients: dict[str, set[str]] = {}
    for r in rows:
        patients.setdefault(covidx_patient_id(r.patient_id, r.source), set()).add(r.filename)
    # COVID-Net lists 24 Figure1 images; 00015a/b, 00039a/b/c and 00043a/b are three patients
    assert len(rows) == 24 and len(patients) == 24 - 4
    assert patients["COVID-00039"] == {"COVID-00039a.jpg", "COVID-00039b.jpg", "COVID-00039c.jpg"}
    assert patients["COVID-00015"] == {"COVID-00015a.png", "COVID-00015b.png"}
    assert figure1_patient_id("COVID-00043b") == "COVID-00043" == figure1_patient_id("COVID-00043")


def test_covidx_ids_are_kept_as_written(labels_dir):
    rows = read_covidx_rows(labels_dir / "train_COVIDx9A.txt")
    cohen = next(r for r in rows if r.source == "cohen")
    rsna = next(r for r in rows if r.source == "rsna")
    assert covidx_patient_id(cohen.patient_id, "cohen") == cohen.patient_id
    assert covidx_patient_id(rsna.patient_id, "rsna") == rsna.patient_id
    spaced = next(r for r in read_covidx_rows(labels_dir / "test_COVIDx7B.txt") if " " in r.patient_id)
    assert covidx_patient_id(spaced.patient_id, spaced.source) == spaced.patient_id  # "COVID 119"-style ids
    assert covidx_patient_id("  ", "fig1") is None
    assert ieee8023_patient_id(" 19 ") == "ieee8023-19"


def test_covidx_reader_groups_figure1_images(labels_dir, tmp_path):
    lines = [ln for ln in (labels_dir / "train_COVIDx9A.txt").read_text().splitlines() if ln.endswith(" fig1")]
    for ln in lines:
        (tmp_path / ln.split()[1]).write_bytes(b"")
    (tmp_path / "split.txt").write_text("\n".join(lines) + "\n")
    table = read_covidx_split(tmp_path / "split.txt")
    assert table.frame["patient_id"].nunique() == 20 and len(table) == 24


def test_figure1_reader_agrees_with_the_patient_ids_of_cxr4_mini(tmp_path, cxr4_mini):
    """Figure1's real images as its metadata names them (``COVID-00039b``/``c``...): the reader's patients
    are the ones ../shared/data/cxr4-mini's MANIFEST.csv records for the same files."""
    import shutil

    import pandas as pd

    from cxr_core.data.build.sources import read_figure1

    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv", dtype=str)
    fig1 = manifest[manifest["path"].str.startswith("covid/figure1_")]
    (tmp_path / "images").mkdir()
    rows = ["patientid,finding,view,modality"]
    for rel in fig1["path"]:
        name = rel.split("/")[-1].removeprefix("figure1_")
        shutil.copyfile(cxr4_mini / rel, tmp_path / "images" / name)
        rows.append(f"{name.rsplit('.', 1)[0]},COVID-19,AP,X-ray")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    got = read_figure1(tmp_path).frame
    expected = {r.split("/")[-1].removeprefix("figure1_"): p for r, p in zip(fig1["path"], fig1["patient_id"])}
    assert dict(zip(got["source_path"].str.removeprefix("images/"), got["patient_id"])) == expected
    assert got["patient_id"].value_counts()["figure1-COVID-00039"] == 2


@pytest.mark.parametrize("name,patient", [
    ("00001684_011.png", "chestxray8-00001684"),   # patient 1684, follow-up 11 (ChestX-ray8's Image Index)
    ("00000001_000.png", "chestxray8-00000001"),
    ("00001684_011.jpg", None),                    # ChestX-ray8 images are PNG
    ("1684_011.png", None),                        # not 8 digits
    ("00001684.png", None),                        # no follow-up number
    ("covid-19-pneumonia-7-PA.jpg", None),
])
def test_chestxray8_patient_from_the_file_name(name, patient):
    assert chestxray8_patient_id(name) == patient
