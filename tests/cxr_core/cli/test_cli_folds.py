"""Folds run apart and merged, through the command line: ``covid-cxr cv --folds`` then ``covid-cxr report``.

Two "machines" (two run directories) each run half of CoroNet's 4-fold protocol in smoke size on a
tiny undersample of the real cxr4-mini images; ``covid-cxr report A B --out C`` must merge them into
the full 4-fold table, with every sample predicted exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxr_core.cli.main import main

pytestmark = pytest.mark.slow  # two CoroNet smoke runs through the CLI, as two machines

REPO = Path(__file__).resolve().parents[3]
PER_CLASS = 6  # 24 images: 6 test images per fold


def _cv_args(cxr4_mini: Path, run_dir: Path, folds: str) -> list[str]:
    counts = "{" + ", ".join(f"{c}: {PER_CLASS}" for c in ("covid", "normal", "pneumonia_bac", "pneumonia_vir")) + "}"
    return [
        "cv", str(REPO / "experiments/coronet/4class.yaml"), "--smoke",
        "--data", str(cxr4_mini / "MANIFEST.csv"),
        "--run-dir", str(run_dir), "--folds", folds,
        "--set", f"data.undersample={counts}",
        "--set", "model.backbone_weights=null",
        "--set", "train.steps_per_epoch=1", "--set", "train.validation_steps=1",
        "--set", "train.verbose=0",
        "--set", "evaluation.n_bootstrap=20",
    ]


@pytest.fixture(scope="module")
def merged(cxr4_mini, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-folds")
    a, b, c = root / "machine_a", root / "machine_b", root / "merged"
    assert main(_cv_args(cxr4_mini, a, "0,1")) == 0
    assert main(_cv_args(cxr4_mini, b, "2,3")) == 0
    assert main(["report", str(a), str(b), "--out", str(c)]) == 0
    return a, b, c


def test_each_machine_ran_only_its_folds(merged):
    a, b, _ = merged
    assert sorted(p.name for p in a.glob("fold_*")) == ["fold_0", "fold_1"]
    assert sorted(p.name for p in b.glob("fold_*")) == ["fold_2", "fold_3"]
    for k in range(4):  # same seed, same data: both machines wrote the same split files
        assert (a / "splits" / f"fold_{k}.csv").read_bytes() == (b / "splits" / f"fold_{k}.csv").read_bytes()


def test_report_merges_the_full_table(merged):
    a, b, c = merged
    assert (c / "report.md").is_file() and (c / "results.csv").is_file()
    preds = pd.concat(
        [pd.read_csv(d / f"fold_{k}" / "predictions.csv") for d, k in ((a, 0), (a, 1), (b, 2), (b, 3))]
    )
    samples = pd.read_csv(a / "samples.csv")
    assert len(samples) == 4 * PER_CLASS
    assert sorted(preds["sample_id"]) == sorted(samples["sample_id"]), "every sample tested exactly once"
    merged_table = pd.read_csv(c / "results.csv")
    half_table = pd.read_csv(a / "results.csv")
    first = merged_table.columns[0]
    merged_rows = [str(v) for v in merged_table[first]]
    half_rows = [str(v) for v in half_table[first]]
    # One row per fold plus summary rows: the merged table has two fold rows more than one machine's.
    assert len(merged_rows) == len(half_rows) + 2, (merged_rows, half_rows)
    assert "4" in (c / "report.md").read_text()


def test_report_of_unrelated_runs_is_refused(merged, tmp_path):
    import shutil

    import yaml

    a, _, _ = merged
    other = tmp_path / "other"  # a run of another config: same folds, different learning rate
    shutil.copytree(a, other)
    record = yaml.safe_load((other / "config.yaml").read_text())
    record["config"]["train"]["optimizer"]["learning_rate"] = 0.5
    (other / "config.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    try:
        code = main(["report", str(a), str(other), "--out", str(tmp_path / "bad")])
    except ValueError as exc:  # RunDirectoryError; the CLI may let it through rather than exit 2
        assert "differs" in str(exc)
    else:
        assert code != 0
    assert not (tmp_path / "bad" / "results.csv").exists()
