"""The k-fold protocol end to end on real images (smoke size): run directory, resume, fold merging.

The two run directories are the session's ``coronet_two_machines`` (tests/cxr_core/conftest.py): CoroNet's
4-fold protocol, folds 0-1 in one run directory and 2-3 in another, as two machines would, made through
``covid-cxr cv`` (``cli/test_cli_folds.py`` checks the command line's part on the same runs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from cxr_core.config.experiment import replace
from cxr_core.protocol.experiment_data import load_samples, prepare_samples
from cxr_core.protocol.split_files import resolve_splits
from cxr_core.protocol.run import run_protocol
from cxr_core.runs.directory import RunDirectoryError, summarize_runs
from tests.log_capture import captured_logs

pytestmark = pytest.mark.slow  # CoroNet smoke runs of 4 folds end to end


@pytest.fixture(scope="module")
def two_fold_runs(coronet_two_machines):
    """Folds 0-1 in one run directory and 2-3 in another, as two machines would: (config, a, b, log lines)."""
    runs = coronet_two_machines
    return runs.config, runs.a, runs.b, runs.logs


def test_run_directory_has_every_artefact(two_fold_runs):
    cfg, a, _, logs = two_fold_runs
    record = yaml.safe_load((a / "config.yaml").read_text())
    assert record["config"]["protocol"]["n_folds"] == 4 and len(record["data_manifest_sha256"]) == 64
    samples = pd.read_csv(a / "samples.csv")
    assert samples["label"].value_counts().to_dict() == {
        "pneumonia_bac": 42, "pneumonia_vir": 50, "covid": 20, "normal": 20
    }, "undersampling to the requested counts; classes not named keep all their images"
    for k in range(4):
        split = pd.read_csv(a / "splits" / f"fold_{k}.csv")
        assert set(split["role"]) <= {"train", "test"} and len(split) == len(samples)
    for k in (0, 1):
        fold = a / f"fold_{k}"
        for name in ("predictions.csv", "metrics.csv", "metrics.md", "training_log.csv",
                     "confusion_matrix.png", "confusion_matrix_normalized.png", "curves.png"):
            assert (fold / name).is_file(), f"{fold / name} missing"
        preds = pd.read_csv(fold / "predictions.csv")
        probs = preds[[f"prob_{c}" for c in cfg.data.class_names]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert not (a / "fold_2").exists()
    assert any("fold 0: train" in line for line in logs), "fold progress is logged at INFO"


def test_folds_are_patient_disjoint_and_cover_every_sample(two_fold_runs):
    _, a, _, _ = two_fold_runs
    test_sets = []
    for k in range(4):
        split = pd.read_csv(a / "splits" / f"fold_{k}.csv", dtype=str, keep_default_na=False)
        test = split[split["role"] == "test"]
        train = split[split["role"] == "train"]
        assert not set(test["patient_id"]) & set(train["patient_id"]), f"fold {k}: a patient is in train and test"
        test_sets.append(set(test["sample_id"]))
    assert sum(len(s) for s in test_sets) == len(set().union(*test_sets)) == 132


def test_same_seed_gives_the_same_splits(two_fold_runs):
    _, a, b, _ = two_fold_runs
    for k in range(4):
        assert (a / "splits" / f"fold_{k}.csv").read_bytes() == (b / "splits" / f"fold_{k}.csv").read_bytes()


def test_report_merges_folds_from_two_directories(two_fold_runs, tmp_path):
    _, a, b, _ = two_fold_runs
    report = summarize_runs([a, b], out_dir=tmp_path)
    assert report.is_file()
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) > 0
    text = report.read_text()
    assert "Table III" in text or "table3" in text
    preds = pd.concat(pd.read_csv(d / f"fold_{k}" / "predictions.csv") for d, k in ((a, 0), (a, 1), (b, 2), (b, 3)))
    assert len(preds) == 132 and preds["sample_id"].is_unique


def test_finished_folds_are_skipped_and_changed_configs_refused(two_fold_runs):
    cfg, a, _, _ = two_fold_runs
    before = (a / "fold_0" / "predictions.csv").stat().st_mtime_ns
    with captured_logs() as logs:
        run_protocol(cfg, a, folds=[0], smoke=True, write_report=False)
    assert (a / "fold_0" / "predictions.csv").stat().st_mtime_ns == before
    assert any("finished earlier, skipped" in line for line in logs)
    other = replace(cfg, {"train": {"optimizer": {"learning_rate": 0.5}}})
    with pytest.raises(RunDirectoryError, match="made with another config .*learning_rate"):
        run_protocol(other, a, folds=[0], smoke=True)


def test_splits_are_reused_by_another_run(two_fold_runs, tmp_path):
    cfg, a, _, _ = two_fold_runs
    other = replace(cfg, {"protocol": {"splits_from": str(a)}, "train": {"seed": 999}})
    table = prepare_samples(other, load_samples(other))
    splits = resolve_splits(other, table, tmp_path / "new")
    for k in range(4):
        assert (tmp_path / "new/splits" / f"fold_{k}.csv").read_bytes() == (a / "splits" / f"fold_{k}.csv").read_bytes()
    assert sorted(int(i) for s in splits for i in s.test) == list(range(len(table)))
    missing = replace(cfg, {"protocol": {"splits_from": str(tmp_path / "nowhere")}})
    with pytest.raises(RunDirectoryError, match="does not hold fold_0.csv"):
        resolve_splits(missing, table, tmp_path / "new2")
