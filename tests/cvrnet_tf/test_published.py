"""cvrnet_tf.published: CVR-Net's tables hold the numbers of docs/PAPERS.md §2.5 with their sources."""

from __future__ import annotations

import pytest

from cxr_core.report import published as P
from cxr_core.evaluation import confusion
from cvrnet_tf import FAMILY


def test_cvrnet_tables():
    ab = P.published_table("cvrnet/abstract")
    assert ab.attrs["source"] == "[S2] abstract"
    assert ab.loc["task 1", "F1"] == 0.997 and ab.loc["task 1", "accuracy"] == 0.998
    assert ab.loc["task 5", "accuracy"] == 0.780
    rep = P.published_table("cvrnet/task1_fold2_report")
    assert rep.attrs["source"].startswith("[CVR-T]")
    cm = P.published_confusion("cvrnet/task1_fold2_confusion")
    ours = confusion.from_confusion_matrix(cm, ["NOR", "NCP"])
    for row, src in (("NOR", "NOR"), ("NCP", "NCP"), ("macro", "macro avg"),
                     ("weighted", "weighted avg")):
        for col in ("precision", "recall", "f1"):
            assert round(float(ours.loc[row, col]), 3) == pytest.approx(rep.loc[src, col])


def test_the_family_publishes_its_tables_in_paper_order():
    assert [t.key for t in FAMILY.published.tables] == ["cvrnet/abstract", "cvrnet/task1_fold2_report", "cvrnet/task1_fold2_confusion"]
    for table in FAMILY.published.tables:
        assert P.find_published(table.key) == (FAMILY, table)
        assert table.source.startswith("[") and table.title
