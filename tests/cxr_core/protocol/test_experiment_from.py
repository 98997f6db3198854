"""experiment_from: the command line and the Python API build the same experiment from the same inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxr_core.config.experiment import config_to_dict
from cxr_core.protocol.experiment_from import experiment_from

REPO = Path(__file__).resolve().parents[3]
KFOLD = REPO / "experiments" / "coronet" / "4class.yaml"
FIXED = REPO / "experiments" / "cvrnet" / "task5.yaml"


def _cli(argv):
    from cxr_core.cli.main import build_parser
    from cxr_core.cli.options import experiment

    args = build_parser().parse_args(argv)
    return experiment(args, holdout=getattr(args, "holdout", None) if args.command == "train" else None)


def test_cli_train_and_api_give_the_same_experiment(tmp_path):
    cli = _cli(["train", str(KFOLD), "--data", "D", "--val-data", "V", "--smoke", "--epochs", "3",
                "--set", "train.batch_size=4", "--holdout", "0.3", "--run-dir", str(tmp_path / "r")])
    api = experiment_from(KFOLD, {"train": {"epochs": 3, "batch_size": 4}}, data="D", val_data="V", smoke=True,
                          holdout=0.3, run_dir=tmp_path / "r")
    assert config_to_dict(cli.config) == config_to_dict(api.config)
    assert cli.run_dir == api.run_dir == tmp_path / "r"
    cfg = api.config
    assert cfg.protocol.kind == "holdout" and cfg.protocol.holdout_fraction == 0.3  # train's switch
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 4  # explicit values win over --smoke
    assert cfg.train.steps_per_epoch == 2  # the smoke settings otherwise
    assert cfg.data.source == "D" and cfg.data.validation_source == "V"
    assert cfg.protocol.validation == "validation_source"


def test_cv_keeps_the_protocol_and_names_a_run_directory(tmp_path):
    cli = _cli(["cv", str(KFOLD), "--out", str(tmp_path)])
    assert cli.config.protocol.kind == "kfold"
    assert cli.run_dir.parent == tmp_path / cli.config.name and len(cli.run_dir.name) == len("20250101-120000")
    assert experiment_from(FIXED, holdout=0.3).config.protocol.kind == "fixed_split"  # only k-fold switches


def test_run_experiment_trains_one_holdout_split_like_train(monkeypatch, tmp_path):
    import cxr_core

    seen = {}
    monkeypatch.setattr("cxr_core.protocol.run.run_protocol",
                        lambda cfg, run_dir, folds=None, smoke=False: seen.update(cfg=cfg, run_dir=run_dir))
    cxr_core.run_experiment(KFOLD, data=tmp_path, run_dir=tmp_path / "r", holdout=0.25)
    assert seen["cfg"].protocol.kind == "holdout" and seen["cfg"].protocol.holdout_fraction == 0.25
    assert seen["run_dir"] == tmp_path / "r"
    with pytest.raises(ValueError, match="train.epochs"):
        cxr_core.run_experiment(KFOLD, overrides={"train": {"epochs": 0}}, run_dir=tmp_path / "x")
