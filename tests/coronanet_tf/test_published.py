"""coronanet_tf.published: CORONA-Net's and the COVID-Net/COVIDx tables of docs/PAPERS.md §3.5, §4."""

from __future__ import annotations

import numpy as np

from cxr_core.report import published as P
from coronanet_tf import FAMILY


def test_coronanet_tables():
    cm = P.published_table("coronanet/confusion")
    assert cm.attrs["source"].startswith("[VIP]")
    np.testing.assert_allclose(cm.sum(axis=1), 1.0, atol=0.011)
    ppv = P.published_table("coronanet/table5_ppv")
    assert list(ppv.loc["COVID-Net"]) == [90.5, 91.3, 98.9]
    assert "reversed" in ppv.attrs["notes"]
    fixed = P.published_table("coronanet/table5_ppv_relabelled")
    cxr3b = P.published_table("covidnet/results").loc["COVIDNet-CXR3-B"]
    assert fixed.loc["COVID-Net", "COVID-19"] == cxr3b["PPV COVID-19"]
    assert fixed.loc["COVID-Net", "Normal"] == cxr3b["PPV Normal"]
    assert list(fixed.loc["CORONA-Net"]) == list(ppv.loc["CORONA-Net"])
    assert P.published_table("coronanet/accuracy").loc["CORONA-Net", "Accuracy"] == 95.84


def test_covidx_counts_add_up():
    counts = P.published_table("covidx/image_counts")
    for split in ("train", "test"):
        parts = counts[[f"{split} normal", f"{split} pneumonia", f"{split} COVID-19"]].sum(axis=1)
        np.testing.assert_array_equal(parts, counts[f"{split} total"])


def test_the_family_publishes_its_tables_in_paper_order():
    assert [t.key for t in FAMILY.published.tables] == ["coronanet/confusion", "coronanet/table5_ppv", "coronanet/table5_ppv_relabelled", "coronanet/accuracy", "covidnet/results", "covidx/image_counts"]
    for table in FAMILY.published.tables:
        assert P.find_published(table.key) == (FAMILY, table)
        assert table.source.startswith("[") and table.title
