"""CVR-Net's data-set recipes: Dataset-1 (Tasks 1-3, authors' folders), Dataset-2 refused, Dataset-3 (CT lists)."""

from __future__ import annotations

import os

import pytest

from cvrnet_tf import FAMILY, read_task_folders
from cxr_core.data.build.assemble import BuildError, build_dataset_from_recipe
from tests.cxr_core.data import source_fixtures as F


def test_dataset1_three_tasks_with_the_authors_folders(tmp_path, shared_data):
    sources = {"ieee8023": F.make_ieee8023(tmp_path / "ieee", shared_data, n_covid=6),
               "kermany": F.make_kermany(tmp_path / "kermany", shared_data, n=5)}
    m = build_dataset_from_recipe("cvrnet-dataset1", sources, tmp_path / "out")
    folders = {s: sorted({p.split("/")[1] for p in m.loc[m["subset"] == s, "path"]}) for s in ("task1", "task2", "task3")}
    assert folders == {"task1": ["01_NOR", "03_NCP"], "task2": ["01_NOR", "02_CPN", "03_NCP"],
                       "task3": ["01_NOR", "02_CPB", "03_CPV", "04_NCP"]}
    by = m.groupby(["subset", "label"]).size().to_dict()
    assert by[("task1", "NOR")] == 15 and by[("task2", "CPN")] == 10 and by[("task3", "CPV")] == 5
    t3 = read_task_folders(tmp_path / "out" / "task3", 3)  # the task's own reader takes the folders
    assert t3.class_counts().to_dict() == {"NOR": 5, "CPB": 5, "CPV": 5, "NCP": 6}
    a, b = tmp_path / "out" / m.loc[m["subset"] == "task1", "path"].iloc[0], None
    b = tmp_path / "out" / "task2" / a.relative_to(tmp_path / "out" / "task1")
    if b.exists():
        assert os.path.samefile(a, b)  # shared within OUT
    md = (tmp_path / "out" / "BUILD.md").read_text()
    assert "| task1 | NOR | 15 | 5856 |" in md and "| task3 | CPB | 5 | 2780 |" in md
    assert (tmp_path / "out" / "task3" / "MANIFEST.csv").is_file()


def test_dataset2_is_refused_with_the_reason(tmp_path):
    assert not FAMILY.data.recipes["cvrnet-dataset2"].available
    with pytest.raises(BuildError, match="not published"):
        build_dataset_from_recipe("cvrnet-dataset2", {}, tmp_path / "out")


def test_dataset3_official_lists(tmp_path, shared_data):
    m = build_dataset_from_recipe("cvrnet-dataset3", {"covid-ct": F.make_covid_ct(tmp_path / "ct", shared_data, n=8)},
                                  tmp_path / "out")
    by = m.groupby(["subset", "label"]).size().to_dict()
    assert by == {("test", "NCP"): 2, ("test", "NOR"): 2, ("train", "NCP"): 4, ("train", "NOR"): 4,
                  ("trainval", "NCP"): 5, ("trainval", "NOR"): 5, ("valid", "NCP"): 1, ("valid", "NOR"): 1}
    md = (tmp_path / "out" / "BUILD.md").read_text()
    assert "| trainval | NOR | 5 | 292 |" in md and "| test | NCP | 2 | 98 |" in md
    assert "in no official split list" in md and "listed but not found" in md
    assert read_task_folders(tmp_path / "out" / "trainval", 5).class_counts().to_dict() == {"NOR": 5, "NCP": 5}
