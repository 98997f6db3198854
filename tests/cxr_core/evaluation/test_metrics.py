"""cxr_core.evaluation.metrics: agreement with scikit-learn and with the published reports [CN-old], [CVR-T]."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from cxr_core.evaluation import metrics as M
from cxr_core.report import published as P
from cxr_core.evaluation import confusion
from cxr_core.evaluation import bootstrap

CORONET = ["covid", "normal", "pneumonia_bac", "pneumonia_vir"]


def _random_predictions(seed, n=400, c=4, signal=0.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    p = rng.dirichlet(np.ones(c), n)
    p[np.arange(n), y] += signal
    return y, p / p.sum(axis=1, keepdims=True)


def test_coronet_notebook_report_to_two_decimals():
    """[CN-old] test report from its confusion matrix (docs/PAPERS.md §1.5)."""
    cm = P.published_confusion("coronet/notebook_confusion")
    df = confusion.from_confusion_matrix(cm, CORONET)
    np.testing.assert_array_equal(df.loc[CORONET, "precision"].round(2), [1.00, 0.89, 0.89, 0.87])
    np.testing.assert_array_equal(df.loc[CORONET, "recall"].round(2), [1.00, 1.00, 0.79, 0.86])
    np.testing.assert_array_equal(df.loc[CORONET, "f1"].round(2), [1.00, 0.94, 0.84, 0.86])
    assert list(df.loc[CORONET, "support"]) == [20, 77, 75, 70]
    assert round(df.attrs["accuracy"], 2) == 0.89
    for avg, expected in (("macro", 0.91), ("weighted", 0.89)):
        np.testing.assert_array_equal(df.loc[avg, ["precision", "recall", "f1"]].astype(float)
                                      .round(2), [expected] * 3)
        assert df.loc[avg, "support"] == 242
    report = P.published_table("coronet/notebook_report")
    ours = df.rename(index={"macro": "macro avg", "weighted": "weighted avg"})
    for row in CORONET + ["macro avg", "weighted avg"]:
        for col in ("precision", "recall", "f1"):
            assert round(float(ours.loc[row, col]), 2) == pytest.approx(report.loc[row, col])


def test_cvrnet_fold2_report_to_three_decimals():
    """[CVR-T] Task-1 fold-2 report from the implied matrix [[1175,1],[2,99]] (docs/PAPERS.md §2.5)."""
    df = confusion.from_confusion_matrix([[1175, 1], [2, 99]], ["NOR", "NCP"])
    np.testing.assert_array_equal(df.loc[["NOR", "NCP"], "precision"].round(3), [0.998, 0.990])
    np.testing.assert_array_equal(df.loc[["NOR", "NCP"], "recall"].round(3), [0.999, 0.980])
    np.testing.assert_array_equal(df.loc[["NOR", "NCP"], "f1"].round(3), [0.999, 0.985])
    assert round(df.attrs["accuracy"], 3) == 0.998
    assert round(df.loc["macro", "f1"], 3) == 0.992
    assert round(df.loc["weighted", "f1"], 3) == 0.998
    report = P.published_table("cvrnet/task1_fold2_report")
    assert round(df.loc["macro", "precision"], 3) == report.loc["macro avg", "precision"]
    assert round(df.loc["macro", "recall"], 3) == report.loc["macro avg", "recall"]


@pytest.mark.parametrize("seed,c", [(0, 2), (1, 3), (2, 4), (3, 5)])
def test_agrees_with_sklearn_on_random_data(seed, c):
    y, p = _random_predictions(seed, n=300, c=c, signal=0.3)
    pred = p.argmax(axis=1)
    names = [f"c{k}" for k in range(c)]
    cm = confusion.confusion_matrix(y, pred, c)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, pred, labels=range(c)))
    df = confusion.from_labels(y, pred, names)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=range(c),
                                                             zero_division=0)
    np.testing.assert_allclose(df.loc[names, "precision"], prec)
    np.testing.assert_allclose(df.loc[names, "recall"], rec)
    np.testing.assert_allclose(df.loc[names, "f1"], f1)
    np.testing.assert_array_equal(df.loc[names, "support"], sup)
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        np.testing.assert_allclose(df.loc[avg, ["precision", "recall", "f1"]].astype(float),
                                   [pa, ra, fa])
    report = skm.classification_report(y, pred, labels=range(c), target_names=names,
                                       output_dict=True, zero_division=0)
    assert df.attrs["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert df.attrs["accuracy"] == pytest.approx(report["accuracy"])
    assert df.loc["macro", "f1"] == pytest.approx(report["macro avg"]["f1-score"])
    assert df.loc["weighted", "recall"] == pytest.approx(report["weighted avg"]["recall"])
    assert confusion.overall_accuracy(cm) == pytest.approx(skm.accuracy_score(y, pred))
    # specificity = recall of the negative class; NPV = precision of the negative class
    for k, name in enumerate(names):
        neg_t, neg_p = y != k, pred != k
        assert df.loc[name, "specificity"] == pytest.approx(skm.recall_score(neg_t, neg_p))
        assert df.loc[name, "npv"] == pytest.approx(skm.precision_score(neg_t, neg_p))
    roc = M.roc_auc_ovr(y, p, names)
    if c == 2:
        assert roc["macro"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    else:
        assert roc["macro"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    for k, name in enumerate(names):
        assert roc[name] == pytest.approx(skm.roc_auc_score(y == k, p[:, k]))


def test_roc_auc_with_ties_and_missing_class():
    y, p = _random_predictions(5, n=200, c=3, signal=0.2)
    p = np.round(p, 1)  # many ties
    roc = M.roc_auc_ovr(y, p, ["a", "b", "c"])
    for k, name in enumerate("abc"):
        assert roc[name] == pytest.approx(skm.roc_auc_score(y == k, p[:, k]))
    y2 = np.where(y == 2, 0, y)  # class c absent: NaN, left out of macro
    roc2 = M.roc_auc_ovr(y2, p, ["a", "b", "c"])
    assert np.isnan(roc2["c"])
    assert roc2["macro"] == pytest.approx(np.mean([roc2["a"], roc2["b"]]))


def test_label_validation():
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        confusion.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="lengths differ"):
        confusion.confusion_matrix([0, 1], [0], 3)
    with pytest.raises(ValueError, match="expected shape"):
        M.evaluate_predictions([0, 1], np.ones((2, 3)), ["a", "b"], n_boot=0)


def test_evaluate_predictions_fields_and_bootstrap():
    y, p = _random_predictions(7, n=500, c=4)
    r = M.evaluate_predictions(y, p, CORONET, n_boot=300, seed=3)
    np.testing.assert_array_equal(r.confusion, skm.confusion_matrix(y, p.argmax(1)))
    assert r.accuracy == pytest.approx(skm.accuracy_score(y, p.argmax(1)))
    assert r.summary["macro_f1"] == pytest.approx(skm.f1_score(y, p.argmax(1), average="macro"))
    assert r.summary["macro_roc_auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    expected = {"accuracy", "macro_precision", "macro_recall", "macro_specificity", "macro_f1",
                "weighted_f1", "macro_roc_auc", "precision[covid]", "recall[pneumonia_vir]"}
    assert expected <= set(r.ci.index)
    assert list(r.ci.columns) == ["value", "low", "high"]
    assert (r.ci["low"] <= r.ci["value"] + 1e-12).all() and (r.ci["value"] <= r.ci["high"] + 1e-12).all()
    assert (r.ci["high"] - r.ci["low"] > 0).all()
    # vectorised intervals == the generic per-resample implementation on the same resamples
    acc = bootstrap.bootstrap_ci(y, p, lambda t, q: skm.accuracy_score(t, q.argmax(1)), n_boot=300, seed=3)
    assert acc == pytest.approx(tuple(r.ci.loc["accuracy", ["low", "high"]]))
    auc = bootstrap.bootstrap_ci(y, p, lambda t, q: skm.roc_auc_score(t, q, multi_class="ovr"),
                         n_boot=300, seed=3)
    assert auc == pytest.approx(tuple(r.ci.loc["macro_roc_auc", ["low", "high"]]))
    mf1 = bootstrap.bootstrap_ci(y, p, lambda t, q: skm.f1_score(t, q.argmax(1), average="macro",
                                                         labels=range(4), zero_division=0),
                         n_boot=300, seed=3)
    assert mf1 == pytest.approx(tuple(r.ci.loc["macro_f1", ["low", "high"]]))
    # seeded: same seed same result, other seed different
    again = M.evaluate_predictions(y, p, CORONET, n_boot=300, seed=3)
    pd.testing.assert_frame_equal(r.ci, again.ci)
    other = M.evaluate_predictions(y, p, CORONET, n_boot=300, seed=4)
    assert not np.allclose(r.ci["low"], other.ci["low"])
    none = M.evaluate_predictions(y, p, CORONET, n_boot=0)
    assert none.ci["low"].isna().all() and none.ci.loc["accuracy", "value"] == r.accuracy


def test_stratified_bootstrap_keeps_class_counts():
    y = np.repeat([0, 1, 2], [50, 30, 5])
    counts = np.bincount(y)
    for idx in bootstrap.bootstrap_indices(y, 20, seed=1, stratified=True):
        np.testing.assert_array_equal(np.bincount(y[idx], minlength=3), counts)
    y, p = _random_predictions(8, n=300, c=3)
    r = M.evaluate_predictions(y, p, ["a", "b", "c"], n_boot=200, seed=1, stratified=True)
    assert r.ci.attrs["stratified"] is True
    lo, hi = bootstrap.bootstrap_ci(y, p, lambda t, q: (q.argmax(1) == t).mean(), n_boot=200, seed=1,
                            stratified=True)
    assert (lo, hi) == pytest.approx(tuple(r.ci.loc["accuracy", ["low", "high"]]))


def test_bootstrap_is_fast():
    y, p = _random_predictions(9, n=10_000, c=4)
    start = time.perf_counter()
    r = M.evaluate_predictions(y, p, CORONET, n_boot=1000, seed=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 6.0, f"1000 resamples of 10,000 samples took {elapsed:.2f} s"
    assert r.ci.loc["accuracy", "high"] - r.ci.loc["accuracy", "low"] < 0.05


def test_binary_one_dimensional_scores():
    y, p = _random_predictions(10, n=200, c=2)
    r1 = M.evaluate_predictions(y, p[:, 1], ["neg", "pos"], n_boot=0)
    r2 = M.evaluate_predictions(y, p, ["neg", "pos"], n_boot=0)
    np.testing.assert_array_equal(r1.confusion, r2.confusion)
    assert r1.roc_auc["pos"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))


def _folds(cms):
    return [M.evaluate_confusion(cm, ["a", "b", "c"]) for cm in cms]


def test_fold_and_classwise_tables():
    rng = np.random.default_rng(0)
    cms = [rng.integers(0, 20, (3, 3)) + np.diag([30, 30, 30]) for _ in range(4)]
    folds = _folds(cms)
    table = M.fold_table(folds)
    assert list(table.index) == ["fold 0", "fold 1", "fold 2", "fold 3", "mean", "std"]
    assert list(table.columns) == ["Precision", "Recall", "Specificity", "F-measure", "Accuracy"]
    for k, cm in enumerate(cms):
        df = confusion.from_confusion_matrix(cm, ["a", "b", "c"])
        assert table.iloc[k]["Precision"] == pytest.approx(100 * df.loc["macro", "precision"])
        assert table.iloc[k]["Specificity"] == pytest.approx(100 * df.loc["macro", "specificity"])
        assert table.iloc[k]["Accuracy"] == pytest.approx(100 * df.attrs["accuracy"])
    assert table.loc["mean", "Recall"] == pytest.approx(table.iloc[:4]["Recall"].mean())
    assert table.loc["std", "F-measure"] == pytest.approx(table.iloc[:4]["F-measure"].std(ddof=1))
    weighted = M.fold_table(folds, average="weighted")
    df0 = confusion.from_confusion_matrix(cms[0], ["a", "b", "c"])
    assert weighted.iloc[0]["F-measure"] == pytest.approx(100 * df0.loc["weighted", "f1"])
    with pytest.raises(ValueError, match="average"):
        M.fold_table(folds, average="micro")

    cw = M.classwise_table(folds)
    assert list(cw.index) == ["a", "b", "c"]
    assert list(cw.columns) == ["Precision", "Recall", "Specificity", "F-measure", "Accuracy"]
    from sklearn.metrics import accuracy_score  # one-vs-rest accuracy of class c: sklearn on (y == c, pred == c)

    for k, name in enumerate(["a", "b", "c"]):
        per_fold = []
        for cm in cms:
            y = np.repeat(np.arange(3), cm.sum(axis=1))
            pred = np.concatenate([np.repeat(np.arange(3), row) for row in cm])
            per_fold.append(accuracy_score(y == k, pred == k))
        assert cw.loc[name, "Accuracy"] == pytest.approx(100 * np.mean(per_fold))
    expected = np.mean([confusion.from_confusion_matrix(cm, ["a", "b", "c"]).loc["b", "recall"]
                        for cm in cms])
    assert cw.loc["b", "Recall"] == pytest.approx(100 * expected)

    total = sum(cms)
    pooled = M.pooled_fold_table(folds)
    assert pooled.loc["pooled", "Accuracy"] == pytest.approx(100 * np.trace(total) / total.sum())
    pcw = M.pooled_classwise_table(folds)
    assert pcw.loc["c", "Precision"] == pytest.approx(100 * total[2, 2] / total[:, 2].sum())
    assert M.pooled_evaluation(folds).roc_auc is None


def test_pooled_evaluation_uses_predictions():
    folds, ys, ps = [], [], []
    for seed in range(3):
        y, p = _random_predictions(20 + seed, n=150, c=3)
        folds.append(M.evaluate_predictions(y, p, ["a", "b", "c"], n_boot=0))
        ys.append(y)
        ps.append(p)
    pooled = M.pooled_evaluation(folds, n_boot=100, seed=0)
    y, p = np.concatenate(ys), np.concatenate(ps)
    assert pooled.roc_auc["macro"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    np.testing.assert_array_equal(pooled.confusion, sum(f.confusion for f in folds))
    np.testing.assert_array_equal(pooled.confusion, skm.confusion_matrix(y, p.argmax(1), labels=[0, 1, 2]))
    assert pooled.ci["low"].notna().all()


def test_folds_must_share_classes():
    a = M.evaluate_confusion([[1, 0], [0, 1]], ["x", "y"])
    b = M.evaluate_confusion([[1, 0], [0, 1]], ["x", "z"])
    with pytest.raises(ValueError, match=r"result 1 \(counting from 0\)"):
        M.fold_table([a, b])
    with pytest.raises(ValueError, match="at least one"):
        M.classwise_table([])
