"""coronet_tf.report: the Table V row [S4] beside a run in the run report."""

from __future__ import annotations

import numpy as np
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


def test_coronet_table6_per_class_rows_against_sklearn(tmp_path):
    """Table VI [S4] beside a run: each class's precision / recall / specificity / F-measure equal
    scikit-learn's on the pooled predictions; the published cells are the paper's as printed."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    names = ["covid", "normal", "pneumonia"]
    folds = fold_results(names, n_folds=2, n_boot=0)
    R.write_run_report(tmp_path, {"name": "d2", "published": {"table": "coronet/table6"}}, folds, None, n_boot=50)
    text, cmp = read_report(tmp_path)
    assert "CoroNet on Dataset-2 of Ozturk et al." in text and "125 COVID-19 images where the paper says 157" in text
    y = np.concatenate([f.y_true for f in folds])
    pred = np.concatenate([f.y_prob for f in folds]).argmax(1)
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    cm = confusion_matrix(y, pred, labels=[0, 1, 2])
    specificity = [(cm.sum() - cm[i].sum() - cm[:, i].sum() + cm[i, i]) / (cm.sum() - cm[i].sum()) for i in range(3)]
    published = {"COVID-19": (97, 89, 99.6, 93), "Normal": (92, 85, 97.7, 89), "Pneumonia": (87, 95, 88.7, 91)}
    for i, label in enumerate(published):
        for j, (column, value) in enumerate(zip(("Precision", "Recall", "Specificity", "F-measure"),
                                                (precision[i], recall[i], specificity[i], f1[i]))):
            assert cmp.loc[f"{column} {label}", "ours (pooled)"] == pytest.approx(100 * value)
            assert cmp.loc[f"{column} {label}", "published"] == published[label][j]
    assert cmp.loc["F-measure (macro)", "ours (pooled)"] == pytest.approx(100 * f1.mean())
    assert list(cmp.loc[["Precision (macro)", "Recall (macro)", "Specificity (macro)", "F-measure (macro)"],
                        "published"]) == [92, 90, 95.3, 91]
    assert cmp.loc["Accuracy", "ours (pooled)"] == pytest.approx(100 * accuracy_score(y, pred))
    assert cmp.loc["Accuracy", "published"] == 90.21


def test_coronet_table6_names_a_class_it_cannot_match(tmp_path):
    folds = fold_results(["covid", "normal", "other"], n_folds=2, n_boot=0)
    R.write_run_report(tmp_path, {"name": "d2", "published": {"table": "coronet/table6"}}, folds, None, n_boot=0)
    text, cmp = read_report(tmp_path)
    assert not any(q.endswith("Pneumonia") for q in cmp.index)
    assert "row 'Pneumonia' has no counterpart in our classes ['covid', 'normal', 'other']" in text
