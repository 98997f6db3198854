"""Which model ``--run RUN_DIR [--fold K]`` picks (:mod:`cxr_core.inference.run_model`), on run directories laid
out as the protocol writes them (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cxr_core.inference.run_model import run_model, split_run_path
from cxr_core.runs.directory import RunDirectoryError


def _run(tmp_path: Path, protocol: dict, finished: dict[int, str], smoke: bool = True) -> Path:
    """A run directory with config.yaml and finished folds ``{fold: selected weights relative path}``."""
    from cxr_core.config.experiment import config_to_dict, resolve_config

    cfg = resolve_config({"preset": "tinycnn/paper", "protocol": protocol, "preprocess": {"image_size": [24, 24]}})
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"config": config_to_dict(cfg), "class_names": ["a", "b", "c"],
                                                     "smoke": smoke}))
    for k, rel in finished.items():
        fold = run / f"fold_{k}"
        (fold / rel).parent.mkdir(parents=True)
        (fold / rel).write_bytes(b"weights")
        (fold / "selected_weights.txt").write_text(rel + "\n")
        (fold / "predictions.csv").write_text("sample_id\n")
    return run


def test_a_single_split_run_needs_no_fold(tmp_path, tiny_family):
    run = _run(tmp_path, {"kind": "holdout"}, {0: "phase2/model.weights.h5"})
    chosen = run_model(run)
    assert chosen.fold == 0 and chosen.weights == run / "fold_0" / "phase2" / "model.weights.h5"
    assert tuple(chosen.config.preprocess.image_size) == (24, 24), "the run's own resolved size"
    assert chosen.class_names == ("a", "b", "c") and chosen.smoke


def test_kfold_run_lists_its_finished_folds(tmp_path, tiny_family):
    run = _run(tmp_path, {"kind": "kfold", "n_folds": 3}, {0: "checkpoints/best.weights.h5",
                                                          2: "checkpoints/best.weights.h5"})
    with pytest.raises(RunDirectoryError, match=r"3-fold run .* --fold K \(finished folds: 0, 2\)"):
        run_model(run)
    with pytest.raises(RunDirectoryError, match=r"fold 1 .* has not finished .* finished folds: 0, 2"):
        run_model(run, 1)
    assert run_model(run, 2).weights.name == "best.weights.h5"
    assert run_model(run / "fold_2").fold == 2  # a fold folder names the fold
    with pytest.raises(RunDirectoryError, match="names fold 2 but --fold is 0"):
        split_run_path(run / "fold_2", 0)


def test_overrides_apply_on_top_of_the_run_config(tmp_path, tiny_family):
    run = _run(tmp_path, {"kind": "holdout"}, {0: "checkpoints/last.weights.h5"})
    assert run_model(run, overrides={"evaluation": {"batch_size": 3}}).config.evaluation.batch_size == 3


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        run_model(tmp_path)


def test_a_runs_config_yaml_as_config_points_to_run(tmp_path, tiny_family):
    from cxr_core.config.schema import ConfigError
    from cxr_core.config.experiment import load_config

    run = _run(tmp_path, {"kind": "holdout"}, {0: "checkpoints/last.weights.h5"})
    with pytest.raises(ConfigError, match=r"run directory's config.yaml.*--run "):
        load_config(run / "config.yaml")
