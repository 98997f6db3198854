"""CORONA-Net's COVIDx recipe: split files -> train/ and test/, counts against the shipped split files."""

from __future__ import annotations

import pytest

from coronanet_tf import FAMILY
from cxr_core.data.build.assemble import BuildError, build_dataset_from_recipe
from tests.cxr_core.data import source_fixtures as F


def test_covidx_recipe_builds_train_and_test(tmp_path, shared_data):
    assert "covidx" in FAMILY.data.recipes
    rsna = F.make_rsna(tmp_path / "rsna", shared_data)
    ids = sorted(p.stem for p in (rsna / "stage_2_train_images").iterdir())
    train = tmp_path / "train_COVIDx.txt"
    train.write_text(f"{ids[0]} {ids[0]}.png normal\n{ids[1]} {ids[1]}.png pneumonia\n{ids[1]} {ids[1]}.png pneumonia\n")
    test = tmp_path / "test_COVIDx.txt"
    test.write_text(f"{ids[2]} {ids[2]}.png normal\nCOVID 9 COVID(9).png COVID-19\n")
    m = build_dataset_from_recipe("covidx", {"rsna": rsna}, tmp_path / "out", split_files=[train, test])
    assert m.groupby("subset").size().to_dict() == {"test": 1, "train": 2}
    md = (tmp_path / "out" / "BUILD.md").read_text()
    # expected = each split file's own distinct files per label; the published counts of a file of that name differ
    assert "| train | normal | 1 | 1 |" in md and "| test | COVID-19 | 0 | 1 |" in md
    assert "train_COVIDx.txt: its own counts {'normal': 1, 'pneumonia': 1} differ from the published" in md
    assert "COVID(9).png" in md and "source 'radiography' not given (--source radiography=PATH)" in md


def test_covidx_needs_split_files(tmp_path):
    with pytest.raises(BuildError, match="--split-file"):
        build_dataset_from_recipe("covidx", {"rsna": tmp_path}, tmp_path / "out")
