"""cxr_core.evaluation.scores against scikit-learn: CVR-Net's helper metrics [CVR-T], top-k accuracy [CR]."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from cxr_core.evaluation import metrics as M
from cxr_core.evaluation import scores as S


def _predictions(seed, n=300, c=3, signal=0.4, decimals=None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    p = rng.dirichlet(np.ones(c), n)
    p[np.arange(n), y] += signal
    p /= p.sum(axis=1, keepdims=True)
    return y, (np.round(p, decimals) if decimals is not None else p)


def _cvrnet_helper_macro_auc(y, p, drop_intermediate=True):
    """[CVR-T] ``Performance_helper``: sklearn's ROC example recipe, written out with sklearn."""
    c = p.shape[1]
    onehot = np.eye(c)[y]
    fpr, tpr = {}, {}
    for i in range(c):
        fpr[i], tpr[i], _ = skm.roc_curve(onehot[:, i], p[:, i], drop_intermediate=drop_intermediate)
    all_fpr = np.unique(np.concatenate([fpr[i] for i in range(c)]))
    mean_tpr = np.zeros_like(all_fpr)
    for i in range(c):
        mean_tpr += np.interp(all_fpr, fpr[i], tpr[i])
    mean_tpr /= c
    return skm.auc(all_fpr, mean_tpr), all_fpr, mean_tpr


@pytest.mark.parametrize("seed,c,decimals", [(0, 2, None), (1, 3, None), (2, 4, None), (3, 3, 1),
                                             (4, 4, 2), (5, 5, 1)])
def test_macro_auc_matches_cvrnet_helper_recipe(seed, c, decimals):
    y, p = _predictions(seed, c=c, decimals=decimals)  # decimals: many tied scores
    got = S.macro_roc_auc_interpolated(y, p)
    want, all_fpr, mean_tpr = _cvrnet_helper_macro_auc(y, p)  # roc_curve's default, as [CVR-T] ran it
    assert got == pytest.approx(want, abs=1e-12)
    fpr, tpr = S.macro_roc_curve(y, p)
    np.testing.assert_allclose(fpr, all_fpr, atol=1e-15)
    np.testing.assert_allclose(tpr, mean_tpr, atol=1e-12)
    # it is a different number from the mean of per-class AUCs (what roc_auc_ovr's macro is)
    if c > 2 and decimals is None:
        assert got != pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"), abs=1e-9)


@pytest.mark.parametrize("decimals", [None, 1, 2])
def test_roc_curve_points_equal_sklearn(decimals):
    y, p = _predictions(6, c=3, decimals=decimals)
    for k in range(3):
        for drop in (True, False):
            fpr, tpr = S.roc_curve_points(y == k, p[:, k], drop_intermediate=drop)
            ref_fpr, ref_tpr, _ = skm.roc_curve(y == k, p[:, k], drop_intermediate=drop)
            np.testing.assert_allclose(fpr, ref_fpr, atol=1e-15)
            np.testing.assert_allclose(tpr, ref_tpr, atol=1e-15)


@pytest.mark.parametrize("seed,c,decimals", [(0, 2, None), (1, 3, None), (2, 4, 1), (3, 5, 2)])
def test_micro_average_precision_matches_sklearn(seed, c, decimals):
    y, p = _predictions(seed, c=c, decimals=decimals)
    want = skm.average_precision_score(np.eye(c)[y], p, average="micro")  # as [CVR-T] calls it
    assert S.micro_average_precision(y, p) == pytest.approx(want, abs=1e-12)
    assert S.micro_average_precision(np.eye(c)[y], p) == pytest.approx(want, abs=1e-12)


def test_perfect_and_undefined_cases():
    y = np.array([0, 1, 2, 2])
    perfect = np.eye(3)[y] * 0.8 + 0.1
    assert S.macro_roc_auc_interpolated(y, perfect) == pytest.approx(1.0)
    assert S.micro_average_precision(y, perfect) == pytest.approx(1.0)
    # a class with no sample: its ROC curve (and the macro curve) is undefined
    assert np.isnan(S.macro_roc_auc_interpolated(np.array([0, 1, 1, 0]), np.full((4, 3), 1 / 3)))
    with pytest.raises(ValueError, match="y_score"):
        S.micro_average_precision(y, np.ones(4))


@pytest.mark.parametrize("seed,c", [(0, 3), (1, 4), (2, 5)])
def test_top_k_matches_numpy_and_sklearn(seed, c):
    y, p = _predictions(seed, n=500, c=c, signal=0.1)
    logits = np.log(p) + 3.0  # the order is what counts: logits give the same top-k
    assert S.top_k_accuracy(y, p, c) == 1.0
    for k in range(1, c):
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        direct = float(np.mean((top == y[:, None]).any(axis=1)))
        want = skm.top_k_accuracy_score(y, p, k=k, labels=np.arange(c))
        assert S.top_k_accuracy(y, p, k) == pytest.approx(direct)
        assert S.top_k_accuracy(y, p, k) == pytest.approx(want)
        assert S.top_k_accuracy(y, logits, k) == pytest.approx(want)
    assert S.top_k_accuracy(y, p, 1) == pytest.approx(skm.accuracy_score(y, p.argmax(1)))
    with pytest.raises(ValueError, match="k must be"):
        S.top_k_accuracy(y, p, c + 1)


def test_top_k_ties_follow_argmax():
    y = np.array([0, 1, 2])
    p = np.full((3, 3), 1 / 3)  # all tied: argmax predicts class 0
    assert S.top_k_accuracy(y, p, 1) == pytest.approx(1 / 3)
    np.testing.assert_array_equal(S.true_class_rank(y, p), [0, 1, 2])
    assert S.top_k_accuracy(y, p, 2) == pytest.approx(2 / 3)


def test_evaluate_predictions_summary_has_score_metrics():
    y, p = _predictions(11, n=400, c=3)
    r = M.evaluate_predictions(y, p, ["COVID-19", "normal", "pneumonia"], n_boot=0)
    assert r.summary["macro_roc_auc_interpolated"] == pytest.approx(_cvrnet_helper_macro_auc(y, p)[0])
    assert r.summary["micro_average_precision"] == pytest.approx(
        skm.average_precision_score(np.eye(3)[y], p, average="micro"))
    assert r.summary["top_1_accuracy"] == pytest.approx(r.accuracy)
    assert r.summary["top_2_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, p, k=2))
    from_cm = M.evaluate_confusion(r.confusion, ["COVID-19", "normal", "pneumonia"])
    assert all(np.isnan(from_cm.summary[k]) for k in M.SCORE_SUMMARY)
