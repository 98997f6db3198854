"""coronet_tf.published: CoroNet's tables hold the numbers of docs/PAPERS.md §1.5 with their sources."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxr_core.evaluation import metrics as M
from cxr_core.report import published as P
from coronet_tf import FAMILY


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
    assert list(t4.loc["COVID-19"]) == [93.17, 98.25, 97.9, 95.61, 96.6]  # class accuracy 96.6 from the text [S4]
    assert list(t4.columns) == [*M.CLASSWISE_COLUMNS, "Accuracy"]
    assert t4["Accuracy"].iloc[1:].isna().all()
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


def test_the_family_publishes_its_tables_in_paper_order():
    assert [t.key for t in FAMILY.published.tables] == ["coronet/table3", "coronet/table4", "coronet/table5", "coronet/table6", "coronet/table7", "coronet/table8", "coronet/notebook_report", "coronet/notebook_confusion", "covidnet/v1_4class"]
    for table in FAMILY.published.tables:
        assert P.find_published(table.key) == (FAMILY, table)
        assert table.source.startswith("[") and table.title


def test_tables_vii_and_viii_are_shown_quoted_in_a_report(tmp_path):
    """Other methods' numbers [S4 Tables VII, VIII] appear in the run report under a section that marks them
    quoted, each cell as printed (COVID-Net COVID-19 precision 80, Ozturk et al. 2-class 98.08)."""
    from cxr_core.evaluation import metrics as M2
    from cxr_core.report.markdown import write_run_report

    y = np.array([0, 1, 2, 3] * 3)
    res = M2.evaluate_predictions(y, np.eye(4)[y] * 0.7 + 0.075, ["covid", "normal", "pneumonia_bac", "pneumonia_vir"],
                                  n_boot=0)
    write_run_report(tmp_path, {"name": "t", "model": {"family": "coronet"}}, [res], None, n_boot=0)
    text = (tmp_path / "report.md").read_text()
    section = text.split("## Quoted comparisons (other methods, as published)", 1)[1].split("\n## ", 1)[0]
    assert "quoted, not reproduced or computed here" in section
    assert "quoted from [S4] Table VII" in section and "quoted from [S4] Table VIII" in section
    assert "98.08" in section and "| COVID-19 " in section and "80.00" in section
    assert [t.attrs["key"] for t in P.quoted_tables("coronet")] == ["coronet/table7", "coronet/table8",
                                                                     "covidnet/v1_4class"]
    assert not P.published_table("coronet/table3").attrs["quoted"]
