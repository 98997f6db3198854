"""cxr_core.runs.directory and cxr_core.report.predictions: config.yaml provenance and resume checks, prediction files,
merging folds of several run directories (no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cxr_core.config.experiment import load_config, replace
from cxr_core.protocol.experiment_data import manifest_hash
from cxr_core.report.predictions import predictions_frame, read_predictions
from cxr_core.runs.directory import RunDirectoryError, collect_folds, write_run_config
from tests.cxr_core.protocol.test_splits import synthetic_table

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cfg():
    return load_config(REPO / "experiments/coronet/4class.yaml")


def test_run_config_records_provenance_and_refuses_other_data_or_config(cfg, tmp_path):
    table = synthetic_table({"a": 5, "b": 3})
    write_run_config(tmp_path, cfg, table, smoke=True)
    record = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert record["data_manifest_sha256"] == manifest_hash(table) and record["n_samples"] == 8
    assert record["class_names"] == ["a", "b"] and record["smoke"] is True
    assert record["config"]["protocol"]["n_folds"] == cfg.protocol.n_folds
    write_run_config(tmp_path, replace(cfg, {"data": {"source": "elsewhere"}}), table, smoke=True)  # data path may move
    with pytest.raises(RunDirectoryError, match="made from other data"):
        write_run_config(tmp_path, cfg, table.subset(np.arange(7)), smoke=True)
    epochs = cfg.train.epochs
    with pytest.raises(RunDirectoryError, match=rf"another config \(train\.epochs: {epochs} -> 99, run's value -> "
                                                r"this command's\); give the run's own values"):
        write_run_config(tmp_path, replace(cfg, {"train": {"epochs": 99}}), table, smoke=True)


def test_predictions_file_round_trip(tmp_path):
    table = synthetic_table({"a": 3, "b": 2, "c": 1})
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(table))
    frame = predictions_frame(table, probs)
    assert list(frame.columns) == ["sample_id", "label", "label_index", "predicted", "predicted_index",
                                   "prob_a", "prob_b", "prob_c"]
    assert frame["predicted"].tolist() == [("a", "b", "c")[i] for i in probs.argmax(1)]
    frame.to_csv(tmp_path / "p.csv", index=False)
    y, p = read_predictions(tmp_path / "p.csv", table.class_names)
    np.testing.assert_array_equal(y, table.labels)
    np.testing.assert_allclose(p, probs)
    with pytest.raises(ValueError, match="missing column 'prob_d'"):
        read_predictions(tmp_path / "p.csv", ("a", "b", "d"))


def _fake_run(root: Path, cfg, table, folds, probs_seed=0) -> Path:
    write_run_config(root, cfg, table, smoke=False)
    probs = np.random.default_rng(probs_seed).dirichlet(np.ones(2), size=len(table))
    for k in folds:
        (root / f"fold_{k}").mkdir(parents=True, exist_ok=True)
        predictions_frame(table, probs).to_csv(root / f"fold_{k}" / "predictions.csv", index=False)
    return root


def test_collect_folds_merges_directories_and_refuses_conflicts(cfg, tmp_path):
    table = synthetic_table({"a": 4, "b": 4})
    a = _fake_run(tmp_path / "a", cfg, table, [0, 1])
    b = _fake_run(tmp_path / "b", cfg, table, [1, 2])
    record, folds = collect_folds([a, b])
    assert list(folds) == [0, 1, 2] and folds[1] == a / "fold_1" / "predictions.csv"
    assert record["class_names"] == ["a", "b"]
    c = _fake_run(tmp_path / "c", cfg, table, [1], probs_seed=1)
    with pytest.raises(RunDirectoryError, match="fold 1 appears in .* with different predictions"):
        collect_folds([a, c])
    d = _fake_run(tmp_path / "d", replace(cfg, {"train": {"epochs": 3}}), table, [3])
    with pytest.raises(RunDirectoryError, match=rf"experiment config differs .*\(train\.epochs: {cfg.train.epochs} -> 3, "
                                                r"first -> this\)"):
        collect_folds([a, d])
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        collect_folds([tmp_path / "nothing"])


def test_a_resume_with_another_config_is_refused_before_any_download(cfg, tmp_path, monkeypatch):
    """coronet/paper starts from ImageNet weights: the refusal must come before they are looked for."""
    from cxr_core.protocol import run as protocol_run

    write_run_config(tmp_path, cfg, synthetic_table({"a": 4, "b": 4}), smoke=False)

    def no_download(_cfg):
        raise AssertionError("looked for ImageNet weights before checking the run directory")

    monkeypatch.setattr(protocol_run, "require_pretrained_weights", no_download)
    with pytest.raises(RunDirectoryError, match=r"train\.batch_size: 10 -> 3"):
        protocol_run.run_protocol(replace(cfg, {"train": {"batch_size": 3}, "data": {"source": str(tmp_path)}}),
                                  tmp_path)


@pytest.mark.slow
def test_a_smoke_run_shows_the_published_table_apart_for_reference_only(cfg, tmp_path):
    from cxr_core.runs.directory import summarize_runs

    table = synthetic_table({"covid": 4, "normal": 4, "pneumonia_bac": 4, "pneumonia_vir": 4})
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=len(table))
    runs = {}
    quick = replace(cfg, {"evaluation": {"n_bootstrap": 20}})  # the report's layout is the point, not the intervals
    for name, is_smoke in (("real", False), ("smoke", True)):
        runs[name] = tmp_path / name
        write_run_config(runs[name], quick, table, smoke=is_smoke)
        for k in (0, 1):
            (runs[name] / f"fold_{k}").mkdir(parents=True)
            predictions_frame(table, probs).to_csv(runs[name] / f"fold_{k}" / "predictions.csv", index=False)
    assert "for reference only" not in summarize_runs([runs["real"]]).read_text()
    smoke = runs["smoke"]
    text = summarize_runs([smoke]).read_text()
    assert "## Published reference (coronet/table3): for reference only" in text
    assert "this run is a SMOKE run" in text
    per_fold = text.split("## Per-fold results")[1].split("## ")[0]
    assert "published" not in per_fold.lower() and "diff" not in per_fold.lower()
    assert not (smoke / "published_comparison.csv").exists()
