"""coronet_tf.report: the Table V row [S4] beside a run in the run report."""

from __future__ import annotations

import pytest

from cxr_core.evaluation import metrics as M
from cxr_core.report import markdown as R
from tests.run_results import fold_results, read_report


@pytest.mark.parametrize("names,source,row", [
    (["covid", "normal", "pneumonia"], "[S4] Table V, row 3-class", "3-class"),
    (["covid", "normal"], "[S4] Table V, row binary", "binary"),
    (["covid", "normal", "pneumonia_bac", "pneumonia_vir"], None, "4-class"),
])
@pytest.mark.slow
def test_coronet_table5_row(tmp_path, names, source, row):
    folds = fold_results(names, n_folds=4, n_boot=0)
    published = {"table": "coronet/table5"} | ({"source": source} if source else {})
    R.write_run_report(tmp_path, {"name": "c", "published": published}, folds, None, n_boot=100)
    text, cmp = read_report(tmp_path)
    assert f"row {row}" in text
    assert list(cmp.index) == ["Precision (macro)", "Recall (macro)", "Specificity (macro)",
                               "F-measure (macro)", "Accuracy"]
    expected = {"4-class": 89.6, "3-class": 95.0, "binary": 99.0}[row]
    assert cmp.loc["Accuracy", "published"] == pytest.approx(expected)
    table = M.fold_table(folds)
    assert cmp.loc["F-measure (macro)", "ours (fold mean)"] == pytest.approx(table.loc["mean", "F-measure"])
    assert cmp.loc["Recall (macro)", "fold std"] == pytest.approx(table.loc["std", "Recall"])
    assert cmp["CI low"].notna().all()
