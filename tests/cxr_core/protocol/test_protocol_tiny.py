"""The protocol learns: a tiny CNN on a separable synthetic task, through ``covid-cxr cv`` and the Python API.

The published models output about 1/C for every class after a smoke run, so no smoke test of theirs
can notice a label, split or prediction-order mix-up. The test-only ``tinycnn`` family
(tests/tiny_family.py) learns three visually distinct classes (a bright field, a checkerboard, a dark
field) to about 100%. Every check below compares the run's files with the ground truth the test
wrote itself (the class of each file it drew), never with the run's own labels: pooled accuracy
>= 0.95 from predictions.csv, every predictions row in the sample order of its split with the true
label, metrics.csv, results.csv, results_pooled_ci.csv and report.md agreeing with the predictions.
k-fold (the CLI), holdout (the Python API :func:`cxr_core.run_experiment`, which calls
:func:`cxr_core.protocol.run.run_protocol`) and a fixed train/test split (the CLI with ``--test-data``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxr_core
from cxr_core.cli.main import main
from tests.tiny_family import CLASSES, write_separable_dataset

MIN_ACCURACY = 0.95


def _experiment_yaml(path: Path, name: str) -> Path:
    path.write_text(f"name: {name}\npreset: tinycnn/paper\n", encoding="utf-8")
    return path


def _check_fold(run_dir: Path, fold: int, truth: dict[str, str], samples: pd.DataFrame) -> pd.DataFrame:
    """One fold's predictions.csv against the truth and the split; returns the predictions."""
    split = pd.read_csv(run_dir / "splits" / f"fold_{fold}.csv", dtype=str, keep_default_na=False)
    test_ids = set(split.loc[split["role"] == "test", "sample_id"])
    preds = pd.read_csv(run_dir / f"fold_{fold}" / "predictions.csv")
    in_sample_order = [sid for sid in samples["sample_id"] if sid in test_ids]
    assert list(preds["sample_id"]) == in_sample_order, f"fold {fold}: predictions not in the test rows' sample order"
    assert list(preds["label"]) == [truth[sid] for sid in preds["sample_id"]], f"fold {fold}: wrong labels"
    assert list(preds["label_index"]) == [CLASSES.index(truth[sid]) for sid in preds["sample_id"]]
    probs = preds[[f"prob_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert list(preds["predicted_index"]) == list(probs.argmax(axis=1))
    assert list(preds["predicted"]) == [CLASSES[i] for i in probs.argmax(axis=1)]
    # metrics.csv: each class's recall is the share of its test rows predicted as that class.
    metrics = pd.read_csv(run_dir / f"fold_{fold}" / "metrics.csv", index_col=0)
    for c in CLASSES:
        rows = preds[preds["label"] == c]
        assert metrics.loc[c, "recall"] == pytest.approx((rows["predicted"] == c).mean()), f"fold {fold}: {c}"
        assert metrics.loc[c, "support"] == len(rows)
    return preds


def _check_run(run_dir: Path, truth: dict[str, str], n_folds: int, n_test: int) -> float:
    """Every fold, the pooled accuracy and the report of a finished run; returns the pooled accuracy."""
    samples = pd.read_csv(run_dir / "samples.csv", dtype=str, keep_default_na=False)
    assert set(samples["sample_id"]) == set(truth) and len(samples) == len(truth)
    assert all(samples["label"] == samples["sample_id"].map(truth)), "samples.csv labels differ from the files' classes"
    folds = [_check_fold(run_dir, k, truth, samples) for k in range(n_folds)]
    pooled = pd.concat(folds, ignore_index=True)
    assert len(pooled) == pooled["sample_id"].nunique() == n_test, "each test sample predicted exactly once"
    correct = pooled["sample_id"].map(truth) == pooled["predicted"]
    accuracy = float(correct.mean())
    assert accuracy >= MIN_ACCURACY, f"pooled accuracy {accuracy:.3f} < {MIN_ACCURACY}: the tiny CNN did not learn"

    results = pd.read_csv(run_dir / "results.csv", index_col=0)
    fold_acc = [100 * float((f["label"] == f["predicted"]).mean()) for f in folds]
    fold_rows = results[results.index.str.startswith("fold ")]  # "fold 1".. or "fold 0".., in fold order
    np.testing.assert_allclose(fold_rows["Accuracy"], fold_acc)
    ci = pd.read_csv(run_dir / "results_pooled_ci.csv", index_col=0)
    assert ci.loc["accuracy", "value"] == pytest.approx(accuracy)
    assert ci.loc["accuracy", "low"] <= accuracy <= ci.loc["accuracy", "high"]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert f"| accuracy | {accuracy:.4f} |" in report
    assert f"samples in total: {n_test}" in report and "classes: " + ", ".join(CLASSES) in report
    return accuracy


@pytest.fixture(scope="module")
def kfold_run(tiny_family, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_kfold")
    truth = write_separable_dataset(root / "data", per_class=12, seed=1)
    config = _experiment_yaml(root / "tiny.yaml", "tiny_kfold")
    assert main(["-q", "cv", str(config), "--data", str(root / "data"), "--run-dir", str(root / "run")]) == 0
    return root / "run", truth


@pytest.mark.slow
def test_cv_prints_what_it_wrote_and_the_run_directory_last(kfold_run, capsys):
    run_dir, _ = kfold_run
    capsys.readouterr()
    config = run_dir.parent / "tiny.yaml"
    # the same command again: every fold is finished, so it only rewrites the report
    assert main(["-q", "cv", str(config), "--data", str(run_dir.parent / "data"), "--run-dir", str(run_dir)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(run_dir)
    assert str(run_dir / "report.md") in printed and str(run_dir / "results.csv") in printed


@pytest.mark.slow
def test_kfold_cv_learns_the_separable_task(kfold_run):
    run_dir, truth = kfold_run
    accuracy = _check_run(run_dir, truth, n_folds=3, n_test=len(truth))
    assert accuracy >= MIN_ACCURACY


@pytest.mark.slow
def test_kfold_test_folds_partition_the_samples_and_are_stratified(kfold_run):
    run_dir, truth = kfold_run
    seen: list[str] = []
    for k in range(3):
        split = pd.read_csv(run_dir / "splits" / f"fold_{k}.csv", dtype=str, keep_default_na=False)
        test = split[split["role"] == "test"]
        assert set(split["role"]) == {"train", "test"} and len(split) == len(truth)
        assert test["sample_id"].map(truth).value_counts().to_dict() == {c: 4 for c in CLASSES}
        seen += list(test["sample_id"])
    assert sorted(seen) == sorted(truth)


def test_holdout_through_the_python_api_learns(tiny_family, tmp_path):
    truth = write_separable_dataset(tmp_path / "data", per_class=12, seed=2)
    run = cxr_core.run_experiment({"name": "tiny_holdout", "preset": "tinycnn/paper",
                                   "protocol": {"kind": "holdout", "holdout_fraction": 1 / 3}},
                                  data=tmp_path / "data", run_dir=tmp_path / "run")
    assert Path(run.run_dir) == tmp_path / "run"
    accuracy = _check_run(Path(run.run_dir), truth, n_folds=1, n_test=12)
    assert accuracy >= MIN_ACCURACY and not (tmp_path / "run" / "fold_1").exists()


@pytest.mark.slow
def test_fixed_split_through_the_cli_predicts_the_given_test_set(tiny_family, tmp_path):
    train = write_separable_dataset(tmp_path / "train", per_class=12, seed=3, prefix="train")
    test = write_separable_dataset(tmp_path / "test", per_class=6, seed=4, prefix="test")
    config = _experiment_yaml(tmp_path / "tiny.yaml", "tiny_fixed")
    assert main(["-q", "cv", str(config), "--data", str(tmp_path / "train"), "--test-data", str(tmp_path / "test"),
                 "--set", "protocol.kind=fixed_split", "--run-dir", str(tmp_path / "run")]) == 0
    run_dir = tmp_path / "run"
    accuracy = _check_run(run_dir, {**train, **test}, n_folds=1, n_test=len(test))
    preds = pd.read_csv(run_dir / "fold_0" / "predictions.csv")
    assert list(preds["sample_id"]) == list(test), "the fixed test set, in its folder order, is what was predicted"
    assert accuracy >= MIN_ACCURACY


def _readme_run_files() -> list[str]:
    """The files README.md's "What a run leaves behind" lists, expanded (``a.csv/.md`` -> a.csv, a.md;
    ``x(_normalized).png`` -> both; ``fold_k`` -> fold_0), without those it marks as conditional."""
    import re

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    block = text.split("## What a run leaves behind", 1)[1].split("\n\n", 2)[1]
    conditional = ("skipped.csv", "locks/", "published_comparison", "phase1/", "phase2/",
                   "confusion_matrix_project_page")
    names: list[str] = []
    for entry, description in re.findall(r"^      (\S.*?)\s{2,}(.*(?:\n {34}.*)*)", block, flags=re.M):
        words = [w.strip() for w in entry.split(",")]
        if entry == "fold_k/":  # its description lists the fold's files
            words = ["fold_k/" + w for w in re.findall(r"[\w()]+(?:\.\w+(?:/\.\w+)?|/)", description.split("(CORONA")[0])]
        elif "calibration.csv/.md" in description:
            words.append("calibration.csv/.md")
        for word in words:
            word = word.replace("fold_k", "fold_0")
            stems = [word.replace("(_normalized)", ""), word.replace("(", "").replace(")", "")] if "(" in word else [word]
            for stem in dict.fromkeys(stems):
                base, _, ext = stem.partition("/.")
                names += [base, base.rsplit(".", 1)[0] + "." + ext] if ext else [base]
    return [n for n in names if not any(c in n for c in conditional)]


@pytest.mark.slow
def test_every_file_the_readme_lists_exists_after_a_run(kfold_run):
    run_dir, _ = kfold_run
    listed = _readme_run_files()
    assert {"config.yaml", "fold_0/predictions.csv", "fold_0/curves.png", "results.md", "report.html"} <= set(listed)
    missing = [name for name in listed if not (run_dir / name).exists()]
    assert not missing, f"README lists files a run does not write: {missing}"
