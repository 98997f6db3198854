"""cxr_core.logs and the progress lines of training: logging, not print."""

from __future__ import annotations

import io
import logging
import re

import numpy as np

from cxr_core.logs import configure_logging
from tests.log_capture import captured_logs


def test_configure_logging_levels_and_format():
    stream = io.StringIO()
    try:
        configure_logging(logging.INFO, stream=stream)
        configure_logging(logging.INFO, stream=stream)  # again: replaced, not doubled
        logging.getLogger("cxr_core.protocol.run").info("fold %d: train %d", 0, 99)
        logging.getLogger("coronanet_tf.training").warning("careful")
        logging.getLogger("cxr_core.protocol.run").debug("hidden at INFO")
        logging.getLogger("some_other_library").info("other libraries stay at WARNING")
        lines = stream.getvalue().splitlines()
        assert len(lines) == 2, lines
        assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] fold 0: train 99", lines[0])
        assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] WARNING: careful", lines[1])
        configure_logging("warning", stream=stream)
        logging.getLogger("cxr_core.protocol.run").info("quiet")
        assert "quiet" not in stream.getvalue()
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "covid-cxr"]:
            root.removeHandler(handler)
        for name in ("cxr_core", "coronet_tf", "cvrnet_tf", "coronanet_tf"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_fit_split_logs_one_line_per_epoch_and_prints_nothing(tmp_path, capsys):
    import keras
    import tensorflow as tf

    from cxr_core.config.experiment import OptimizerConfig, TrainConfig
    from cxr_core.training.fit import fit_split

    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]

    def data(first_epoch):
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def build():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])

    train = TrainConfig(optimizer=OptimizerConfig("adam", 1e-2), batch_size=4, epochs=2, verbose=2, seed=1,
                        checkpoint="last")
    with captured_logs() as lines:
        fit_split(build, data, None, tmp_path / "split", train)
        fit_split(build, data, None, tmp_path / "split", train)  # finished: not trained again
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("loss" in line and "accuracy" in line for line in epochs)
    assert any("not trained again" in line for line in lines)
    assert "Epoch" not in capsys.readouterr().out, "Keras' own epoch lines are replaced by the log"


def test_progress_logging_shows_info_lines_unless_configured_or_turned_off(capsys):
    from cxr_core.logs import progress_logging

    run_log = logging.getLogger("cxr_core.protocol.run")
    before = logging.getLogger("cxr_core").level
    with progress_logging(True):
        run_log.info("fold 0: train 9")
    assert "fold 0: train 9" in capsys.readouterr().err
    with progress_logging(False):
        run_log.info("fold 1: train 9")
        run_log.warning("still said")
    err = capsys.readouterr().err
    assert "fold 1" not in err
    assert logging.getLogger("cxr_core").level == before  # restored
    run_log.info("after the block")
    assert "after the block" not in capsys.readouterr().err  # Python's default again: warnings only


def test_run_experiment_shows_progress_as_the_cli_and_verbose_false_hides_it(tiny_family, tmp_path, capsys,
                                                                             monkeypatch):
    import cxr_core
    from cxr_core.protocol import run as protocol_run

    def fake_run(cfg, run_dir, **_):
        logging.getLogger("cxr_core.protocol.run").info("fold 0: train 12, validation 4, test 4")

    monkeypatch.setattr(protocol_run, "run_protocol", fake_run)
    # as in a fresh Python session: no logging configured (earlier CLI tests in this process configure it)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if not (h.get_name() or "").startswith("covid-cxr")])
    from cxr_core.logs import package_loggers

    for name in package_loggers():
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    config = {"name": "quiet-api", "preset": "tinycnn/authors_code"}
    cxr_core.run_experiment(config, data=tmp_path, run_dir=tmp_path / "a")
    err = capsys.readouterr().err
    assert "quiet-api: run directory" in err and "fold 0: train 12" in err
    cxr_core.run_experiment(config, data=tmp_path, run_dir=tmp_path / "b", verbose=False)
    assert "fold 0" not in capsys.readouterr().err
