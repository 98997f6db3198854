"""The build engine (copy / link, MANIFEST.csv, BUILD.md, safety, determinism) and COVIDx from split files."""

from __future__ import annotations

import hashlib
import os

import cv2
import numpy as np
import pandas as pd
import pytest

from cxr_core.data.build.assemble import (
    BuildError,
    BuildItem,
    BuildPlan,
    Recipe,
    build_dataset_from_recipe,
    execute_plan,
    parse_source_options,
    undersample_frame,
)
from cxr_core.data.build.covidx import parse_covidx_fields, plan_covidx, read_covidx_rows
from cxr_core.data.build.layout import SourceError
from tests.cxr_core.data import source_fixtures as F


def _plan(shared, n=3, dest=lambda i, p: f"normal/{p.name}"):
    files = F.mini_files(shared, "cxr4-mini/normal")[:n]
    items = [BuildItem(dest(i, p), "normal", "kermany", str(p), f"x/{p.name}", f"kermany-{i}") for i, p in enumerate(files)]
    return BuildPlan("t", items, published={"": {"normal": 5}}, skipped=[("kermany", "x/bad.jpeg", "no marker")])


def test_manifest_sha256_and_build_md(tmp_path, shared_data):
    manifest = execute_plan(_plan(shared_data), tmp_path / "out", seed=3)
    out = tmp_path / "out"
    read = pd.read_csv(out / "MANIFEST.csv", dtype=str)
    assert list(read.columns) == ["path", "label", "patient_id", "source", "source_path", "sha256", "subset"]
    for r in read.itertuples():
        assert hashlib.sha256((out / r.path).read_bytes()).hexdigest() == r.sha256
    md = (out / "BUILD.md").read_text()
    assert "| (all) | normal | 3 | 5 | -2 |" in md and "x/bad.jpeg" in md and "no marker" in md
    assert len(manifest) == 3 and not list(tmp_path.glob(".out.building-*"))


def test_link_makes_hard_links(tmp_path, shared_data):
    plan = _plan(shared_data)
    tmp_src = tmp_path / "src"
    tmp_src.mkdir()
    items = []
    for it in plan.items:  # sources on the same file system as OUT
        copy = tmp_src / os.path.basename(it.source_file)
        copy.write_bytes(open(it.source_file, "rb").read())
        items.append(BuildItem(it.dest, it.label, it.source, str(copy), it.source_path))
    plan.items = items
    execute_plan(plan, tmp_path / "out", link=True)
    assert all(os.path.samefile(tmp_path / "out" / it.dest, it.source_file) for it in items)


@pytest.mark.parametrize("dest", ["../escape.jpeg", "/abs.jpeg", "a/../../b.jpeg", "MANIFEST.csv"])
def test_output_paths_never_escape_out(tmp_path, shared_data, dest):
    plan = _plan(shared_data, n=1, dest=lambda i, p: dest)
    with pytest.raises((BuildError, SourceError)):
        execute_plan(plan, tmp_path / "out")
    assert not (tmp_path / "escape.jpeg").exists() and not (tmp_path / "out").exists()


def test_refuses_a_non_empty_out(tmp_path, shared_data):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep me")
    with pytest.raises(BuildError, match="not an empty folder"):
        execute_plan(_plan(shared_data), tmp_path / "out")


def test_failed_build_leaves_nothing(tmp_path, shared_data):
    plan = _plan(shared_data)
    plan.items.append(BuildItem("normal/gone.jpeg", "normal", "kermany", str(tmp_path / "gone.jpeg"), "gone.jpeg"))
    with pytest.raises(FileNotFoundError):
        execute_plan(plan, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_undersample_is_deterministic_and_exact():
    frame = pd.DataFrame({"label": ["a"] * 50 + ["b"] * 10, "source_path": [f"f{i:03d}" for i in range(60)]})
    one, _ = undersample_frame(frame, {"a": 20, "b": 10}, seed=1)
    two, _ = undersample_frame(frame.sample(frac=1, random_state=0), {"a": 20, "b": 10}, seed=1)
    other, _ = undersample_frame(frame, {"a": 20}, seed=2)
    assert one["label"].value_counts().to_dict() == {"a": 20, "b": 10}
    assert one["source_path"].tolist() == two["source_path"].tolist()
    assert one["source_path"].tolist() != other["source_path"].tolist()
    _, notes = undersample_frame(frame, {"b": 11}, seed=0)
    assert notes == ["b: 10 found, fewer than the 11 published; all kept"]


def test_parse_source_options():
    assert parse_source_options(["kermany=/d/chest_xray"])["kermany"].as_posix() == "/d/chest_xray"
    with pytest.raises(BuildError, match="NAME=PATH"):
        parse_source_options(["kermany"])


def test_unavailable_recipe_says_why(tmp_path):
    r = Recipe("x", "x", None, available=False, unavailable_reason="sources are not published")
    with pytest.raises(BuildError, match="sources are not published"):
        build_dataset_from_recipe(r, {}, tmp_path / "out")


# ------------------------------------------------------------------------------------------ COVIDx
def test_covidx_rows_parse_from_the_right():
    row = parse_covidx_fields("COVID 119 COVID(119).png COVID-19 sirm".split(), "f line 1")
    assert (row.patient_id, row.filename, row.label, row.source) == ("COVID 119", "COVID(119).png", "COVID-19", "sirm")
    row = parse_covidx_fields("COVID 119 COVID(119).png COVID-19".split(), "f line 1")
    assert (row.patient_id, row.filename, row.label, row.source) == ("COVID 119", "COVID(119).png", "COVID-19", "")
    with pytest.raises(SourceError, match="f line 2.*'..' would leave"):
        parse_covidx_fields("p ../x.jpeg normal".split(), "f line 2")


def test_covidx_from_split_files(tmp_path, shared_data):
    sources = {"ieee8023": F.make_ieee8023(tmp_path / "ieee", shared_data, n_covid=2),
               "rsna": F.make_rsna(tmp_path / "rsna", shared_data),
               "radiography": F.make_radiography(tmp_path / "rad", shared_data)}
    ieee_name = sorted((tmp_path / "ieee" / "images").iterdir())[0].name
    rsna_ids = sorted(p.stem for p in (tmp_path / "rsna" / "stage_2_train_images").iterdir())
    train = tmp_path / "train_split_v2.txt"
    train.write_text(f"100 {ieee_name} COVID-19 cohen\n{rsna_ids[0]} {rsna_ids[0]}.png normal rsna\n"
                     f"{rsna_ids[0]} {rsna_ids[0]}.png normal rsna\nCOVID 1 COVID(1).png COVID-19 sirm\n"
                     "77 lost.jpg pneumonia cohen\n")
    test = tmp_path / "test_COVIDx.txt"  # v2 style: no source column
    test.write_text(f"{rsna_ids[2]} {rsna_ids[2]}.png pneumonia\n5 nowhere.png normal\n")
    plan = plan_covidx("covidx", [train, test], sources)
    manifest = execute_plan(plan, tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(manifest["path"]) == sorted([f"train/{ieee_name}", f"train/{rsna_ids[0]}.png", "train/COVID(1).png",
                                               f"test/{rsna_ids[2]}.png"])
    assert (out / "train" / "train_split_v2.txt").read_text() == train.read_text()
    # RSNA DICOM -> 8-bit PNG of the stored pixels; MONOCHROME1 inverted back
    png = cv2.imread(str(out / "test" / f"{rsna_ids[2]}.png"), cv2.IMREAD_UNCHANGED)
    original = F.gray(F.mini_files(shared_data, "cxr4-mini/normal")[2])
    assert png.dtype == np.uint8 and np.array_equal(png, original)
    # Radiography Database: gray PNG as COVIDx's cv2 BGR2GRAY
    src = cv2.imread(str(tmp_path / "rad/COVID-19_Radiography_Dataset/COVID/images/COVID (1).png"))
    assert np.array_equal(cv2.imread(str(out / "train" / "COVID(1).png"), cv2.IMREAD_UNCHANGED),
                          cv2.cvtColor(src, cv2.COLOR_BGR2GRAY))
    md = (out / "BUILD.md").read_text()
    assert "train_split_v2.txt line 5: lost.jpg" in md and "not found under --source ieee8023" in md
    assert "test_COVIDx.txt line 2: nowhere.png" in md
    # the split files read back with the images beside them
    from cxr_core.data.tables.covidx import read_covidx_split
    assert len(read_covidx_split(out / "test" / "test_COVIDx.txt", on_error="skip")) == 1


def test_covidx_csv_with_header_and_unsafe_rows(tmp_path):
    f = tmp_path / "test_split_v2.csv"
    f.write_text("patientid,filename,label\nCOVID 3,COVID(3).png,COVID-19\n")
    rows = read_covidx_rows(f)
    assert (rows[0].patient_id, rows[0].filename, rows[0].line) == ("COVID 3", "COVID(3).png", 2)
    f.write_text("patientid,filename,label\n1,/etc/passwd,normal\n")
    with pytest.raises(SourceError, match="line 2: absolute path"):
        read_covidx_rows(f)


def test_cli_data_build_and_audit(tmp_path, shared_data, capsys):
    from cxr_core.cli.main import main

    ct = F.make_covid_ct(tmp_path / "COVID-CT", shared_data, n=8)
    assert main(["data", "build", "cvrnet-dataset3", "--source", f"covid-ct={ct}", "--out", str(tmp_path / "ds"),
                 "--link"]) == 0
    assert "trainval/NOR: 5" in capsys.readouterr().out
    assert main(["data", "audit", str(tmp_path / "ds" / "trainval"), "--out", str(tmp_path / "audit")]) == 0
    assert (tmp_path / "audit" / "audit.md").is_file()
    assert main(["data", "build", "coronet", "--source", f"kermany={tmp_path}", "--out", str(tmp_path / "x")]) == 2
    assert "needs --source ieee8023=PATH" in capsys.readouterr().err
