"""Ctrl-C: one line saying where the run stopped, exit code 130, and the next run says where it resumes."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from cxr_core.training import fit as training
from cxr_core.cli.main import main
from cxr_core.runs.progress import PROGRESS, RESUME_HINT, RunProgress
from tests.log_capture import captured_logs
from tests.tiny_family import write_separable_dataset


def test_messages_name_the_fold_and_the_last_saved_epoch(tmp_path):
    p = RunProgress()
    p.start(tmp_path / "run")
    assert p.interrupted_message() == f"interrupted before training started; {RESUME_HINT}"
    p.fold_started(2)
    p.training_started(tmp_path / "run" / "fold_2", 0, 5)
    assert p.interrupted_message() == f"interrupted during epoch 1 of fold 2 (no epoch finished yet); {RESUME_HINT}"
    p.epoch_saved(3)
    assert p.interrupted_message() == f"interrupted after epoch 3 of fold 2; {RESUME_HINT}"
    p.training_started(tmp_path / "run" / "fold_2" / "phase1", 1, 5)  # a family training in phases
    assert p.interrupted_message() == f"interrupted after epoch 1 of fold 2 (phase1); {RESUME_HINT}"
    p.evaluating()
    assert p.interrupted_message().startswith("interrupted while evaluating fold 2 (phase1)")


def _interrupt_after_epoch(epoch_to_stop: int):
    """A stand-in for the progress callback that records the epoch as the real one does, then acts
    like Ctrl-C at the end of ``epoch_to_stop`` (1-based)."""
    import keras

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            PROGRESS.epoch_saved(epoch + 1)
            if epoch + 1 == epoch_to_stop:
                raise KeyboardInterrupt

    return CtrlC()


@pytest.mark.slow
def test_ctrl_c_says_where_it_stopped_and_the_same_command_resumes(tiny_family, tmp_path, monkeypatch, capsys):
    write_separable_dataset(tmp_path / "data", per_class=6, seed=5)
    config = tmp_path / "tiny.yaml"
    config.write_text("name: tiny_interrupt\npreset: tinycnn/paper\n", encoding="utf-8")
    command = ["cv", str(config), "--data", str(tmp_path / "data"), "--run-dir", str(tmp_path / "run"),
               "--folds", "0", "--epochs", "4"]

    monkeypatch.setattr(training, "progress_callback", lambda: _interrupt_after_epoch(2))
    assert main(command) == 130
    err = capsys.readouterr().err
    assert f"covid-cxr cv: interrupted after epoch 2 of fold 0; {RESUME_HINT}" in err
    assert "Traceback" not in err
    state = pd.read_json(tmp_path / "run" / "fold_0" / "checkpoints" / "state.json", typ="series")
    assert state["epochs_done"] == 2, "the message names the epoch the checkpoint holds"

    monkeypatch.undo()
    with captured_logs("cxr_core", logging.INFO) as lines:
        assert main(command) == 0
    assert any(line.startswith("resuming fold 0 at epoch 3 of 4") for line in lines), lines
    log = pd.read_csv(tmp_path / "run" / "fold_0" / "training_log.csv")
    assert list(log["epoch"]) == [0, 1, 2, 3], "epochs 1-2 from the first run, 3-4 from the resumed one"


@pytest.mark.slow
def test_ctrl_c_on_a_new_timestamped_run_names_the_run_directory(tiny_family, tmp_path, monkeypatch, capsys):
    write_separable_dataset(tmp_path / "data", per_class=6, seed=6)
    config = tmp_path / "tiny.yaml"
    config.write_text("name: tiny_interrupt\npreset: tinycnn/paper\n", encoding="utf-8")
    monkeypatch.setattr(training, "progress_callback", lambda: _interrupt_after_epoch(1))
    assert main(["cv", str(config), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs"),
                 "--folds", "1", "--epochs", "3"]) == 130
    err = capsys.readouterr().err
    run_dirs = list((tmp_path / "runs" / "tiny_interrupt").iterdir())
    assert len(run_dirs) == 1
    assert (f"interrupted after epoch 1 of fold 1; run the same command with --run-dir {run_dirs[0]} to resume"
            in err), err
