"""CoroNet's data-set recipes (ieee8023 + Kermany -> Table I classes) from fixtures in the sources' layouts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coronet_tf import FAMILY, TABLE_I_COUNTS
from cxr_core.data.build.assemble import build_dataset_from_recipe
from tests.cxr_core.data import source_fixtures as F


def _sources(tmp_path, shared):
    return {"ieee8023": F.make_ieee8023(tmp_path / "ieee", shared, n_covid=6),
            "kermany": F.make_kermany(tmp_path / "kermany", shared, n=5)}


def test_recipes_are_in_the_family():
    assert {"coronet", "coronet-3class", "coronet-binary"} <= set(FAMILY.data.recipes)


def test_coronet_4class_reports_table_i(tmp_path, shared_data):
    manifest = build_dataset_from_recipe("coronet", _sources(tmp_path, shared_data), tmp_path / "out", seed=0)
    counts = manifest["label"].value_counts().to_dict()
    assert counts == {"covid": 6, "normal": 5, "pneumonia_bac": 5, "pneumonia_vir": 5}  # lateral view left out
    assert sorted({p.split("/")[0] for p in manifest["path"]}) == ["covid", "normal", "pneumonia_bac", "pneumonia_vir"]
    md = (tmp_path / "out" / "BUILD.md").read_text()
    for label, n in TABLE_I_COUNTS.items():
        assert f"| {label} | " in md and f" | {n} | " in md
    assert "view 'L' is not frontal" in md and "Streptococcus" in md
    assert "covid: 6 found, fewer than the 284 published" not in md  # notes use source labels
    assert "COVID-19: 6 found, fewer than the 284 published; all kept" in md


def test_coronet_variants_and_determinism(tmp_path, shared_data):
    sources = _sources(tmp_path, shared_data)
    three = build_dataset_from_recipe("coronet-3class", sources, tmp_path / "three")
    binary = build_dataset_from_recipe("coronet-binary", sources, tmp_path / "binary")
    assert three["label"].value_counts().to_dict() == {"pneumonia": 10, "covid": 6, "normal": 5}
    assert binary["label"].value_counts().to_dict() == {"covid": 6, "normal": 5}
    again = build_dataset_from_recipe("coronet-3class", sources, tmp_path / "again")
    assert pd.read_csv(tmp_path / "three" / "MANIFEST.csv").equals(pd.read_csv(tmp_path / "again" / "MANIFEST.csv"))
    assert "| pneumonia | 10 | 657 |" in (tmp_path / "three" / "BUILD.md").read_text()


# ------------------------------------------------------------------- Dataset-2 (Table VI) [S4], [OZ@ee3e2cf]
def _dataset2_sources(tmp_path, shared):
    """Ozturk's layout whose Covid-19 folder holds: three collection images (patients 100, 100, 101),
    ``missing.jpg`` (a metadata.csv row whose file the collection copy lacks: patient 9), ``strep.jpeg``
    (a row whose finding is bacterial) and a name no row has."""
    ieee = F.make_ieee8023(tmp_path / "ieee", shared, n_covid=6)
    meta = pd.read_csv(ieee / "metadata.csv")
    covid_rows = meta[meta["finding"].str.contains("COVID-19") & (meta["modality"] == "X-ray")
                      & meta["view"].isin(["PA", "AP Supine"])]
    names = list(covid_rows["filename"][:3]) + ["missing.jpg", "strep.jpeg", "not-in-the-collection.jpeg"]
    with open(ieee / "metadata.csv", "a", encoding="utf-8") as f:  # a file named by a second patient's row too
        f.write(f"12,0,F,30,Pneumonia/Viral/COVID-19,,,,,,,,,,,,,,PA,X-ray,2020,x,images,{names[2]},,,,,,\n")
    files = F.mini_files(shared, "cxr4-mini/covid")[:len(names)]
    return {"ozturk": F.make_ozturk(tmp_path / "COVID-19", shared, names, files), "ieee8023": ieee}, names


def test_dataset2_is_the_release_in_coronet_3class_folders(tmp_path, shared_data):
    sources, names = _dataset2_sources(tmp_path, shared_data)
    manifest = build_dataset_from_recipe("coronet-dataset2", sources, tmp_path / "out")
    assert manifest["label"].value_counts().to_dict() == {"covid": 6, "normal": 4, "pneumonia": 3}
    assert sorted({p.split("/")[0] for p in manifest["path"]}) == ["covid", "normal", "pneumonia"]
    patient = dict(zip(manifest["path"].str.split("/").str[-1], manifest["patient_id"]))
    assert [patient[n] for n in names[:4]] == ["ieee8023-100", "ieee8023-100", "ieee8023-101", "ieee8023-9"]
    assert patient["strep.jpeg"] == "ieee8023-7"
    assert patient["not-in-the-collection.jpeg"] == patient["scan.png"] == ""  # no patient guessed
    assert patient["00001684_000.png"] == patient["00001684_011.png"] == "chestxray8-00001684"
    md = (tmp_path / "out" / "BUILD.md").read_text()
    for label, built, published in (("covid", 6, 157), ("normal", 4, 500), ("pneumonia", 3, 500)):
        assert f"| (all) | {label} | {built} | {published} |" in md
    assert "patient ids of 5 of 6 COVID-19 images joined by file name" in md
    assert "has 151 COVID-19 images more than found here" in md  # 157 [S4] - 6
    assert f"1 COVID-19 images are named by metadata.csv rows of two patients (the first row's patient is used): " \
           f"{names[2]} (ieee8023-101, line" in md and "also ieee8023-12 line 12)" in md
    assert "1 COVID-19 images are not named in its metadata.csv (kept, no patient id): not-in-the-collection.jpeg" in md
    assert "strep.jpeg ('Pneumonia/Bacterial/Streptococcus', metadata.csv line" in md
    assert "README.md" in md and "not an image file" in md  # listed as not used


def test_dataset2_without_the_collection_says_how_to_get_patients(tmp_path, shared_data):
    sources, _ = _dataset2_sources(tmp_path, shared_data)
    manifest = build_dataset_from_recipe("coronet-dataset2", {"ozturk": sources["ozturk"]}, tmp_path / "out",
                                         counts="all")
    assert (manifest.loc[manifest["label"] == "covid", "patient_id"] == "").all()
    md = (tmp_path / "out" / "BUILD.md").read_text()
    assert "give --source ieee8023=PATH" in md
    assert "157" not in md.split("## Notes")[0]  # --counts all: no published column to compare


def test_dataset2_preset_runs_table_vi_in_four_folds():
    from cxr_core.config.experiment import load_config

    config = load_config(Path(__file__).parents[2] / "experiments" / "coronet" / "dataset2.yaml")
    assert (config.protocol.kind, config.protocol.n_folds) == ("kfold", 4)
    assert config.published.table == "coronet/table6"
    assert list(config.data.class_names) == ["covid", "normal", "pneumonia"]
    assert config.extra.get("required") == ["model.init_from"]  # fine-tunes the 4-class model [S4]
    notes = "\n".join(config.deviations)
    assert "INFERRED" in notes and "[OZ@ee3e2cf]" in notes and "21 patients in both classes" in notes
