"""The study engine's bookkeeping without training: Ctrl-C, failed runs, finished runs skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

import cxr_core.study.engine as engine
from cxr_core.study.plan import StudyRun


def _runs(tmp_path: Path, n: int = 3) -> list[StudyRun]:
    return [StudyRun("exp.yaml", "exp", 0, k, tmp_path / "exp" / "seed_0", ("exp.yaml", "--folds", str(k))) for k in range(n)]


def _fake(calls, fail_at=None, interrupt_at=None):
    def execute(cv_args, fold, setup=None):
        calls.append(fold)
        if fold == interrupt_at:
            raise KeyboardInterrupt
        if fold == fail_at:
            raise ValueError(f"fold {fold}: bad input")
        path = Path("exp") / "seed_0" / f"fold_{fold}"
        return {"accuracy": 1.0, "seconds": 0.1, "pid": 1, "host": "here", "path": str(path)}
    return execute


def test_ctrl_c_stops_and_says_how_to_resume(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "execute_run", _fake(calls, interrupt_at=1))
    with pytest.raises(engine.StudyInterrupted, match=r"1 of 3 runs finished.*run the same study command again"):
        engine.run_study(_runs(tmp_path), engine="serial", progress=False, write_reports=False)
    assert calls == [0, 1]


def test_a_failed_run_does_not_stop_the_others(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "execute_run", _fake(calls, fail_at=0))
    with pytest.raises(engine.StudyFailed, match=r"1 of 3 runs failed:\n  exp seed 0 fold 0: fold 0: bad input"):
        engine.run_study(_runs(tmp_path), engine="serial", progress=False, write_reports=False)
    assert calls == [0, 1, 2]


def test_finished_runs_are_skipped(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "execute_run", _fake(calls))
    runs = _runs(tmp_path)
    (runs[1].run_dir / "fold_1").mkdir(parents=True)
    (runs[1].run_dir / "fold_1" / "predictions.csv").write_text("sample_id\n")
    outcome = engine.run_study(runs, engine="serial", progress=False, write_reports=False)
    assert calls == [0, 2] and outcome.skipped == [runs[1]] and len(outcome.finished) == 2
    with pytest.raises(ValueError, match="--engine"):
        engine.run_study(runs, engine="slurm")
