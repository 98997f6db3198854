"""The per-epoch log line and the within-epoch progress bar (tqdm, on stderr, only on a terminal)."""

from __future__ import annotations

import logging

import numpy as np

from cxr_core.training.callbacks import epoch_logger
from tests.log_capture import captured_logs


def _fit(callback, steps: int = 3):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(steps * 4, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(steps * 4) % 2]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])


def test_a_bar_counts_the_steps_on_stderr_and_the_epoch_line_is_logged(capsys):
    with captured_logs("cxr_core", logging.INFO) as lines:
        _fit(epoch_logger(1, steps=3, bar=True))
    err = capsys.readouterr().err
    assert "epoch 1/1:" in err and "/3 [" in err and "step" in err  # tqdm's bar of 3 steps, on stderr
    assert any(line.startswith("epoch 1/1: loss ") for line in lines)


def test_without_a_terminal_only_the_epoch_line(capsys):
    with captured_logs("cxr_core", logging.INFO) as lines:
        _fit(epoch_logger(1, steps=3))  # pytest's stderr is not a terminal
    captured = capsys.readouterr()
    assert "3/3" not in captured.err and "3/3" not in captured.out
    assert sum(line.startswith("epoch 1/1: ") for line in lines) == 1
