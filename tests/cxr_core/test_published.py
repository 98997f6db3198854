"""cxr_core.published: the tables hold the numbers of spec/PAPERS.md with their sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_core import metrics as M
from cxr_core import published as P


def test_list_and_describe():
    keys = P.list_tables()
    for key in ("coronet/table3", "coronet/table4", "coronet/table5", "coronet/table6",
                "coronet/notebook_report", "coronet/notebook_confusion", "cvrnet/abstract",
                "cvrnet/task1_fold2_report", "coronanet/confusion", "coronanet/table5_ppv",
                "coronanet/accuracy", "covidnet/results"):
        assert key in keys
    assert len(set(keys)) == len(keys)
    desc = P.describe_tables()
    assert list(desc.index) == keys
    assert desc["source"].str.len().gt(0).all()


@pytest.mark.parametrize("key", P.list_tables())
def test_every_table_has_metadata_and_is_fresh(key):
    df = P.published_table(key)
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert df.attrs["key"] == key
    assert df.attrs["source"].startswith("[")
    assert df.attrs["layout"] in {"folds", "classwise", "summary", "report", "confusion"}
    assert df.attrs["units"] in {"percent", "fraction", "count"}
    if df.attrs.get("companion"):
        assert df.attrs["companion"] in P.list_tables()
    df.iloc[0, -1] = -1  # a caller's edit does not leak into the next call
    assert P.published_table(key).iloc[0, -1] != -1


def test_coronet_table3_and_table4():
    t3 = P.published_table("coronet/table3")
    assert t3.attrs["source"] == "[S4] Table III"
    assert list(t3.columns) == list(M.TABLE_COLUMNS)
    assert list(t3.loc["mean"]) == [90, 89.92, 96.4, 89.8, 89.6]
    assert t3.loc["fold 4", "Accuracy"] == 92.26
    # the paper's avg row is the mean of its fold rows to its printed precision
    np.testing.assert_allclose(t3.iloc[:4].mean(), t3.loc["mean"], atol=0.15)
    assert t3.attrs["companion"] == "coronet/table4"
    t4 = P.published_table("coronet/table4")
    assert list(t4.loc["COVID-19"]) == [93.17, 98.25, 97.9, 95.61]
    assert list(t4.columns) == list(M.CLASSWISE_COLUMNS)
    assert t4.loc["Pneumonia viral", "Recall"] == 82.1


def test_coronet_tables_5_and_6():
    t5 = P.published_table("coronet/table5")
    assert list(t5.loc["3-class"]) == [95, 96.9, 97.5, 95.6, 95]
    pd.testing.assert_series_equal(t5.loc["4-class"], P.published_table("coronet/table3").loc["mean"],
                                   check_names=False)
    t6 = P.published_table("coronet/table6")
    assert t6.attrs["accuracy"] == 90.21
    assert list(t6.loc["Average"]) == [92, 90, 95.3, 91]
    assert "Pneumonia Bacterial" in t6.attrs["notes"]


def test_notebook_report_matches_its_confusion_matrix():
    cm = P.published_confusion("coronet/notebook_confusion")
    np.testing.assert_array_equal(cm, [[20, 0, 0, 0], [0, 77, 0, 0], [0, 7, 59, 9], [0, 3, 7, 60]])
    report = P.published_table("coronet/notebook_report")
    assert report.attrs["source"].startswith("[CN-old]")
    assert report.loc["accuracy", "f1"] == 0.89 and report.loc["weighted avg", "support"] == 242


def test_cvrnet_tables():
    ab = P.published_table("cvrnet/abstract")
    assert ab.attrs["source"] == "[S2] abstract"
    assert ab.loc["task 1", "F1"] == 0.997 and ab.loc["task 1", "accuracy"] == 0.998
    assert ab.loc["task 5", "accuracy"] == 0.780
    rep = P.published_table("cvrnet/task1_fold2_report")
    assert rep.attrs["source"].startswith("[CVR-T]")
    cm = P.published_confusion("cvrnet/task1_fold2_confusion")
    ours = M.from_confusion_matrix(cm, ["NOR", "NCP"])
    for row, src in (("NOR", "NOR"), ("NCP", "NCP"), ("macro", "macro avg"),
                     ("weighted", "weighted avg")):
        for col in ("precision", "recall", "f1"):
            assert round(float(ours.loc[row, col]), 3) == pytest.approx(rep.loc[src, col])


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


def test_unknown_key_and_wrong_layout():
    with pytest.raises(KeyError, match="coronet/table3"):
        P.published_table("coronet/table99")
    with pytest.raises(ValueError, match="confusion"):
        P.published_confusion("coronet/table3")
