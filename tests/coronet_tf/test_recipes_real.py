"""CoroNet's recipe and the ieee8023 / Kermany readers on the real public sources in ../shared/data/sources
(issue 17, sections 0 and 3): Table I's 284 / 310 / 330 / 327 [S4], and every entry not used said."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest

from coronet_tf import TABLE_I_COUNTS
from cxr_core.cli.main import main
from cxr_core.data.build.layout import SourceError
from cxr_core.data.build.sources import read_ieee8023


def _metadata(real_sources):
    with open(real_sources / "covid-chestxray-dataset" / "metadata.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_ieee8023_lists_files_of_two_patients_and_images_no_row_names(real_sources):
    root = real_sources / "covid-chestxray-dataset"
    rows = _metadata(real_sources)
    by_file: dict[str, set[str]] = {}
    for r in rows:
        by_file.setdefault(r["filename"], set()).add(r["patientid"])
    two = {f for f, p in by_file.items() if len(p) > 1}
    unnamed = {p.name for p in (root / "images").iterdir()} - set(by_file)
    s = read_ieee8023(root)
    reasons = s.skipped.assign(name=s.skipped["path"].map(lambda p: p.rsplit("/", 1)[-1]))
    listed_two = set(reasons[reasons["reason"].str.startswith("file named by two patients")]["name"])
    listed_unnamed = set(reasons[reasons["reason"].str.startswith("no metadata.csv row names")]["name"])
    assert two and listed_two == two  # 000001-24.jpg ... under patients 285 and 339
    assert unnamed and listed_unnamed == unnamed
    assert "file named by two patients: 285 (line 553, kept) and 339 (line 655)" in set(reasons["reason"])
    absent = {n.rsplit("/", 1)[-1] for n in (root / "ABSENT.txt").read_text().split()}
    not_found = set(reasons[reasons["reason"].str.startswith("file not found")]["name"])
    xray = {r["filename"] for r in rows if r["modality"] == "X-ray"}
    assert absent and not_found == absent & xray  # the partial download's missing X-rays, each said
    assert not s.frame["path"].duplicated().any()


def test_a_source_without_usable_rows_says_why_not_view(real_sources, tmp_path, capsys):
    """The real metadata.csv beside an empty images/ (a partial download): no KeyError 'view'."""
    (tmp_path / "ieee" / "images").mkdir(parents=True)
    shutil.copyfile(real_sources / "covid-chestxray-dataset" / "metadata.csv", tmp_path / "ieee" / "metadata.csv")
    rows = _metadata(real_sources)
    not_xray = sum(r["modality"] != "X-ray" for r in rows)
    repeats = len(rows) - len({r["filename"] for r in rows})  # files named by two patients (5 on 2020-06-22)
    with pytest.raises(SourceError, match=rf"{len(rows)} entries read .* none usable \({len(rows) - not_xray - repeats} "
                                          rf"file not found, {not_xray} not an X-ray, {repeats} file named by two "
                                          r"patients\); first: "):
        read_ieee8023(tmp_path / "ieee")
    rc = main(["data", "build", "coronet", "--source", f"ieee8023={tmp_path / 'ieee'}", "--source",
               f"kermany={real_sources / 'kermany-224' / 'chest_xray'}", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "no usable image" in err and "'view'" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_coronet_build_on_the_real_sources_gives_table_i(real_sources, tmp_path, capsys):
    out = tmp_path / "coronet"
    rc = main(["data", "build", "coronet", "--source", f"ieee8023={real_sources / 'covid-chestxray-dataset'}",
               "--source", f"kermany={real_sources / 'kermany-224' / 'chest_xray'}", "--out", str(out)])
    console = capsys.readouterr().out
    assert rc == 0
    manifest = pd.read_csv(out / "MANIFEST.csv", dtype=str, keep_default_na=False)
    assert manifest["label"].value_counts().to_dict() == dict(TABLE_I_COUNTS)  # 284 / 310 / 330 / 327 [S4]
    assert manifest["patient_id"].ne("").all()
    for label, n in TABLE_I_COUNTS.items():
        assert f"  {label}: {n}\n" in console
    assert console.rstrip().endswith("every class has its published count")
    assert "  000001-24.jpg: file named by two patients: 285 (line 553, kept) and 339 (line 655)\n" in console
    assert "no metadata.csv row names this file" in console
    md = (out / "BUILD.md").read_text()
    assert "view 'L' is not frontal (metadata.csv line " in md
    assert "file named by two patients" in md and "no metadata.csv row names this file" in md
