"""CoroNet's data-set recipes (ieee8023 + Kermany -> Table I classes) from fixtures in the sources' layouts."""

from __future__ import annotations

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
