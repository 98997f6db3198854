"""cxr_core.report.markdown with cvrnet_tf.report: the CVR-Net abstract's task row beside a run (Table V: tests/coronet_tf/test_report.py, CORONA-Net: tests/coronanet_tf/test_report.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_core.evaluation import metrics as M
from cxr_core.report import markdown as R
from tests.run_results import fold_results as _folds
from tests.run_results import read_report as _read


@pytest.mark.slow
def test_cvrnet_abstract_task_row(tmp_path):
    folds = _folds(["NOR", "CPN", "NCP"], n_folds=3)
    config = {"name": "cvrnet-task2", "preset": "cvrnet/authors_code_task2",
              "published": {"table": "cvrnet/abstract_task2", "source": "[S2] abstract, Task-2"},
              "extra": {"cvrnet": {"task": 2}}}
    R.write_run_report(tmp_path, config, folds, None, n_boot=200)
    text, cmp = _read(tmp_path)
    assert "Published reference (cvrnet/abstract): CVR-Net task results (abstract): Task-2" in text
    assert list(cmp.index)[:3] == ["F1 (macro)", "F1 (weighted)", "Accuracy"]  # then [CVR-T] helper rows
    assert cmp.loc["F1 (macro)", "published"] == pytest.approx(96.3)
    assert cmp.loc["Accuracy", "published"] == pytest.approx(96.4)
    pooled = M.pooled_evaluation(folds, n_boot=0)
    assert cmp.loc["Accuracy", "ours (pooled)"] == pytest.approx(100 * pooled.accuracy)
    assert cmp.loc["F1 (weighted)", "ours (fold mean)"] == pytest.approx(
        100 * np.mean([f.summary["weighted_f1"] for f in folds]))
    with_ci = cmp[cmp["CI low"].notna()]  # the [CVR-T] helper rows have no interval
    assert (with_ci["CI low"] <= with_ci["ours (pooled)"]).all() and (with_ci["ours (pooled)"] <= with_ci["CI high"]).all()
    np.testing.assert_allclose(cmp["diff"], cmp["ours (pooled)"] - cmp["published"])
    # random predictions are far from 96%: every row with a published value differs, shown in bold
    assert cmp["differs"][cmp["published"].notna()].all()
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
