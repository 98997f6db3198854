"""fit_split writes TensorBoard scalars per epoch (loss, metrics, learning rate), also across a resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxr_core.config.experiment import OptimizerConfig, TrainConfig
from cxr_core.training.fit import fit_split
from tests.cxr_core.training.test_training import _data as _training_data
from tests.cxr_core.training.test_training import _tiny_model


def _data(seed: int, n: int = 12):
    return _training_data(seed, n)


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of every event file under ``log_dir`` (TensorFlow's own reader)."""
    import tensorflow as tf

    found: dict[str, list[tuple[int, float]]] = {}
    files = sorted(log_dir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {log_dir}"
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                found.setdefault(value.tag, []).append((int(event.step), number))
    return found


def test_every_epoch_has_loss_metrics_and_learning_rate_and_a_resume_continues_the_steps(tmp_path):
    cfg = TrainConfig(optimizer=OptimizerConfig("adam", 1e-2), batch_size=6, epochs=2, verbose=0, seed=1)
    fit_split(_tiny_model, _data, _data, tmp_path, cfg)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_split(_tiny_model, _data, _data, tmp_path, TrainConfig(**{**cfg.__dict__, "epochs": 3}))  # resume
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)], "Keras' optimizer warning"

    train = _scalars(tmp_path / "tensorboard" / "train")
    val = _scalars(tmp_path / "tensorboard" / "validation")
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate"):
        assert [s for s, _ in train[tag]] == [0, 1, 2], tag
    assert [s for s, _ in val["epoch_loss"]] == [0, 1, 2]
    assert [s for s, _ in val["epoch_accuracy"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], 1e-2, rtol=1e-6)
    import pandas as pd

    log = pd.read_csv(tmp_path / "training_log.csv")
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], log["loss"], rtol=1e-5)


def test_tensorboard_can_be_switched_off(tmp_path):
    cfg = TrainConfig(optimizer=OptimizerConfig("adam", 1e-2), batch_size=6, epochs=1, verbose=0,
                      tensorboard=False)
    fit_split(_tiny_model, _data, None, tmp_path, cfg)
    assert not (tmp_path / "tensorboard").exists()
