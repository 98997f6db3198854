"""`covid-cxr study` on a local Ray (CPU): 2 experiments x 2 seeds x 2 folds at smoke size, a worker killed
in the middle of a run, each run equal to the same `covid-cxr cv` run alone, --print-commands, --merge."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.cxr_core.study.study_data import register_tiny

import ray  # noqa: E402,F401  (the `ray` extra; `.[test]` installs it)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_with_table():
    from cxr_core.family import unregister_family

    register_tiny()
    yield
    unregister_family("tinycnn")


def _experiments(tmp: Path) -> list[str]:
    (tmp / "a.yaml").write_text("name: tiny-a\npreset: tinycnn/paper\npublished:\n  table: tinycnn/table_test\n")
    (tmp / "b.yaml").write_text("name: tiny-b\npreset: tinycnn/authors_code\n")
    return [str(tmp / "a.yaml"), str(tmp / "b.yaml")]


@pytest.mark.slow
def test_study_on_local_ray_equals_cv_alone_with_a_killed_worker(tiny_with_table, tmp_path, capsys):
    from cxr_core.cli.main import main
    from cxr_core.study.engine import run_study
    from cxr_core.study.plan import plan_study
    from tests.tiny_family import write_separable_dataset

    data = tmp_path / "data"
    write_separable_dataset(data, per_class=8)
    configs = _experiments(tmp_path)
    out = tmp_path / "study"
    runs = plan_study(configs, [0, 1], out, folds=[0, 1], data=str(data), smoke=True)
    assert len(runs) == 8 and {r.run_dir.relative_to(out).as_posix() for r in runs} == {
        "tiny-a/seed_0", "tiny-a/seed_1", "tiny-b/seed_0", "tiny-b/seed_1"}

    # --print-commands: one cv line per run, the seed in both seed settings
    assert main(["study", *configs, "--seeds", "0-1", "--folds", "0,1", "--data", str(data), "--smoke",
                 "--out", str(out), "--print-commands"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [r.command() for r in runs]
    assert "--folds 1" in lines[3] and "--set protocol.seed=1 --set train.seed=1" in lines[3]

    killed = runs[2]  # tiny-a seed 1 fold 0: its worker dies after the first epoch's checkpoint
    mark = tmp_path / "killed.pid"
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "COVID_CXR_TEST_KILL_RUN": str(killed.run_dir), "COVID_CXR_TEST_KILL_MARK": str(mark)}
    outcome = run_study(runs, engine="ray", num_cpus=2, setup="tests.cxr_core.study.study_data:register_tiny_and_die_once",
                        worker_env=env, fresh_workers=False, progress=False)
    assert mark.is_file(), "the worker was not killed"
    assert len(outcome.finished) == 8 and not outcome.skipped
    assert (killed.run_dir / "fold_0" / "checkpoints" / "state.json").is_file()
    for run_dir in {r.run_dir for r in runs}:
        assert (run_dir / "report.md").is_file()  # a normal run directory with its report

    # the same `covid-cxr cv` runs alone (the printed command, another run directory)
    for run in (killed, runs[7]):
        alone = tmp_path / "alone" / run.name / f"seed_{run.seed}"
        args = list(run.cv_args)
        args[args.index("--run-dir") + 1] = str(alone)
        assert main(["-q", "cv", *args]) == 0
        ours = pd.read_csv(run.run_dir / f"fold_{run.fold}" / "predictions.csv")
        theirs = pd.read_csv(alone / f"fold_{run.fold}" / "predictions.csv")
        pd.testing.assert_frame_equal(ours, theirs)

    # rerunning skips every finished run
    again = run_study(runs, engine="serial", progress=False, write_reports=False)
    assert len(again.skipped) == 8 and not again.finished

    # --merge: the study report from the run directories
    assert main(["-q", "study", "--merge", str(out), "--no-probes"]) == 0
    results = pd.read_csv(out / "study_results.csv")
    row = results[(results.experiment == "tiny-a") & (results.metric == "Accuracy")].iloc[0]
    seed_means = []
    for seed in (0, 1):
        accs = []
        for fold in (0, 1):
            p = pd.read_csv(out / "tiny-a" / f"seed_{seed}" / f"fold_{fold}" / "predictions.csv")
            accs.append(100 * np.mean(p["label_index"] == p["predicted_index"]))
        seed_means.append(np.mean(accs))
    low, high = stats.t.interval(0.95, 1, loc=np.mean(seed_means), scale=stats.sem(seed_means))
    assert row["mean"] == pytest.approx(np.mean(seed_means)) and row["published"] == 55.0
    if np.isfinite(low):
        assert row["low"] == pytest.approx(low) and row["high"] == pytest.approx(high)
        assert row["verdict"] == ("within" if low <= 55 <= high else "above" if 55 > high else "below")
    text = (out / "study.md").read_text()
    assert "## tiny-a" in text and "## tiny-b" in text and "Student's t interval" in text
    assert "Data hazards" in text and (out / "study_tiny-a.png").is_file() and (out / "study.html").is_file()
