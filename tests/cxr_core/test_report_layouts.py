"""cxr_core.report: the metric-per-row comparisons (CoroNet Table V, CVR-Net abstract, CORONA-Net)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_core import metrics as M
from cxr_core import report as R


def _folds(names, n_folds=2, n=200, seed=0, n_boot=200, strength=0.4):
    rng = np.random.default_rng(seed)
    c = len(names)
    out = []
    for k in range(n_folds):
        y = rng.integers(0, c, n)
        p = rng.dirichlet(np.ones(c), n)
        p[np.arange(n), y] += strength
        out.append(M.evaluate_predictions(y, p / p.sum(1, keepdims=True), names, n_boot=n_boot,
                                          seed=k))
    return out


def _read(run_dir):
    text = (run_dir / "report.md").read_text()
    cmp = pd.read_csv(run_dir / "published_comparison.csv", index_col=0)
    return text, cmp


def test_cvrnet_abstract_task_row(tmp_path):
    folds = _folds(["NOR", "CPN", "NCP"], n_folds=3)
    config = {"name": "cvrnet-task2", "preset": "cvrnet/authors_code_task2",
              "published": {"table": "cvrnet/abstract_task2", "source": "[S2] abstract, Task-2"},
              "extra": {"task": 2}}
    R.write_run_report(tmp_path, config, folds, None, n_boot=200)
    text, cmp = _read(tmp_path)
    assert "Published reference (cvrnet/abstract): CVR-Net task results (abstract): Task-2" in text
    assert list(cmp.index) == ["F1 (macro)", "F1 (weighted)", "Accuracy"]
    assert cmp.loc["F1 (macro)", "published"] == pytest.approx(96.3)
    assert cmp.loc["Accuracy", "published"] == pytest.approx(96.4)
    pooled = M.pooled_evaluation(folds, n_boot=0)
    assert cmp.loc["Accuracy", "ours (pooled)"] == pytest.approx(100 * pooled.accuracy)
    assert cmp.loc["F1 (weighted)", "ours (fold mean)"] == pytest.approx(
        100 * np.mean([f.summary["weighted_f1"] for f in folds]))
    assert (cmp["CI low"] <= cmp["ours (pooled)"]).all() and (cmp["ours (pooled)"] <= cmp["CI high"]).all()
    np.testing.assert_allclose(cmp["diff"], cmp["ours (pooled)"] - cmp["published"])
    # random predictions are far from 96%: every row differs, shown in bold
    assert cmp["differs"].all()
    assert text.count("**yes**") == 3 and "**-" in text
    assert "[S2] abstract, Task-2" in text and "weighted" in text and "pooled" in text
    # the task may also come from the name, and a wrong task count is an error
    R.write_run_report(tmp_path / "b", {"name": "cvrnet-task4"}, folds, "cvrnet/abstract", n_boot=0)
    _, cmp4 = _read(tmp_path / "b")
    assert cmp4.loc["Accuracy", "published"] == pytest.approx(96.1)
    assert cmp4["CI low"].isna().all()
    with pytest.raises(ValueError, match="cannot tell the task"):
        R.write_run_report(tmp_path / "c", {"name": "x"}, folds, "cvrnet/abstract", n_boot=0)


def test_close_values_are_not_highlighted(tmp_path):
    # near-perfect predictions against Task-1's 99.7 / 99.8: within 1 point, not bold
    names = ["NOR", "NCP"]
    y = np.array([0] * 900 + [1] * 100)
    p = np.eye(2)[y] * 0.9 + 0.05
    p[0] = [0.4, 0.6]  # one error
    res = M.evaluate_predictions(y, p, names, n_boot=200)
    R.write_run_report(tmp_path, {"name": "t", "extra": {"task": 1}}, [res], "cvrnet/abstract")
    text, cmp = _read(tmp_path)
    assert not cmp.loc["Accuracy", "differs"]
    assert cmp.loc["Accuracy", "ours (pooled)"] == pytest.approx(99.9)
    assert "**yes**" not in text.split("Published reference")[1].split("## ")[0]


@pytest.mark.parametrize("names,source,row", [
    (["covid", "normal", "pneumonia"], "[S4] Table V, row 3-class", "3-class"),
    (["covid", "normal"], "[S4] Table V, row binary", "binary"),
    (["covid", "normal", "pneumonia_bac", "pneumonia_vir"], None, "4-class"),
])
def test_coronet_table5_row(tmp_path, names, source, row):
    folds = _folds(names, n_folds=4, n_boot=0)
    published = {"table": "coronet/table5"} | ({"source": source} if source else {})
    R.write_run_report(tmp_path, {"name": "c", "published": published}, folds, None, n_boot=100)
    text, cmp = _read(tmp_path)
    assert f"row {row}" in text
    assert list(cmp.index) == ["Precision (macro)", "Recall (macro)", "Specificity (macro)",
                               "F-measure (macro)", "Accuracy"]
    expected = {"4-class": 89.6, "3-class": 95.0, "binary": 99.0}[row]
    assert cmp.loc["Accuracy", "published"] == pytest.approx(expected)
    table = M.fold_table(folds)
    assert cmp.loc["F-measure (macro)", "ours (fold mean)"] == pytest.approx(table.loc["mean", "F-measure"])
    assert cmp.loc["Recall (macro)", "fold std"] == pytest.approx(table.loc["std", "Recall"])
    assert cmp["CI low"].notna().all()


def test_coronanet_ppv_sensitivity_accuracy(tmp_path):
    names = ["normal", "pneumonia", "COVID-19"]
    # a test set of 1000 / 1000 / 1000 predicted as the project-page confusion matrix (rounded)
    rows = {0: [(0, 950), (1, 50)], 1: [(0, 40), (1, 960)], 2: [(2, 1000)]}  # normal, pneumonia, covid
    y, pred = [], []
    for t, cells in rows.items():
        for p_, count in cells:
            y += [t] * count
            pred += [p_] * count
    res = M.evaluate_predictions(np.array(y), np.eye(3)[pred], names, n_boot=200)
    for key in ("coronanet/abstract", "coronanet/table5_ppv", "coronanet/confusion"):
        out = tmp_path / key.replace("/", "_")
        R.write_run_report(out, {"name": "coronanet-covidx"}, [res], key)
        text, cmp = _read(out)
        assert list(cmp.index) == ["PPV COVID-19", "PPV Pneumonia", "PPV Normal",
                                   "Sensitivity COVID-19", "Sensitivity Pneumonia",
                                   "Sensitivity Normal", "Accuracy"]
        assert cmp.loc["PPV Normal", "published"] == 99.0
        assert cmp.loc["Sensitivity Pneumonia", "published"] == pytest.approx(95.0)
        assert cmp.loc["Accuracy", "published"] == pytest.approx(95.84)
        assert cmp.loc["Sensitivity COVID-19", "ours (pooled)"] == pytest.approx(100.0)
        assert cmp.loc["PPV Normal", "ours (pooled)"] == pytest.approx(100 * 95 / 99)
        # our normal PPV 96.0 against the printed 99.0: outside our interval, highlighted
        assert cmp.loc["PPV Normal", "CI high"] < 99.0
        assert cmp.loc["PPV Normal", "differs"]
        assert not cmp.loc["PPV COVID-19", "differs"]
        assert "[VIP] images/ppv.jpg" in text and "[PG] J Imaging" in text
        # the inconsistency computed from the confusion matrix with our class counts
        assert "implies accuracy 96.67%" in text and "Normal 95.0 (published 99.0)" in text
    assert (tmp_path / "coronanet_abstract" / "confusion_matrix_pooled_normalized.png").is_file()
