"""fit_split: resume after an interruption, callbacks' state, class weights, precision, distribution."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cxr_core.config.experiment import TrainConfig, OptimizerConfig
from cxr_core.training.fit import class_weights, fit_split
from cxr_core.training.optimizers import make_optimizer


def _tiny_model():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def _data(seed: int, n: int = 24):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(6)


def _train_cfg(**kw) -> TrainConfig:
    base = dict(optimizer=OptimizerConfig("adam", 1e-2), batch_size=6, epochs=4, verbose=0, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_class_weights_follow_cvrnet_rounding():
    labels = np.array([0] * 4680 + [1] * 400)  # Task-1 fold-2 training set [CVR-T]
    assert class_weights("round_max_over_count", labels, ("NOR", "NCP")) == {0: 1.0, 1: 11.7}
    assert class_weights({"NCP": 2.0}, labels, ("NOR", "NCP")) == {0: 1.0, 1: 2.0}
    with pytest.raises(ValueError, match="unknown class 'X'"):
        class_weights({"X": 1.0}, labels, ("NOR", "NCP"))


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="unknown optimizer 'adamz'"):
        make_optimizer("adamz", 1e-3)


@pytest.mark.slow
def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import keras

    import cxr_core.training.checkpoints

    cfg = _train_cfg()
    keras.utils.set_random_seed(3)
    full = fit_split(_tiny_model, _data, _data, tmp_path / "full", cfg)
    assert full.epochs_done == 4 and full.resumed_from == 0
    keras.utils.set_random_seed(3)
    # stopped after epoch 2 of 4: the split is not finished, its resume checkpoint stays
    with monkeypatch.context() as m:
        m.setattr(cxr_core.training.checkpoints, "finish_split", lambda ckpt_dir, *a, **k: Path(ckpt_dir) / "none")
        fit_split(_tiny_model, _data, _data, tmp_path / "cut", _train_cfg(epochs=2))
    assert (tmp_path / "cut/checkpoints/resume.weights.h5").is_file()
    state = json.loads((tmp_path / "cut/checkpoints/state.json").read_text())
    assert state["epochs_done"] == 2
    keras.utils.set_random_seed(99)  # a different process would have other seeds: the checkpoint decides
    resumed = fit_split(_tiny_model, _data, _data, tmp_path / "cut", cfg)
    assert resumed.resumed_from == 2 and resumed.epochs_done == 4
    a, b = _tiny_model(), _tiny_model()
    a.load_weights(full.weights_path)
    b.load_weights(resumed.weights_path)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    log = (tmp_path / "cut/training_log.csv").read_text().strip().splitlines()
    assert len(log) == 1 + 4, "the training log is appended on resume, one row per epoch"
    again = fit_split(_tiny_model, _data, _data, tmp_path / "cut", cfg)
    assert again.epochs_done == 4 and again.resumed_from == 4, "a finished split is not trained again"


def test_early_stopping_and_best_checkpoint_state_survive(tmp_path):
    cfg = _train_cfg(
        epochs=30,
        early_stopping={"monitor": "val_loss", "patience": 1, "mode": "min", "min_delta": 10.0},
        checkpoint="best",
        checkpoint_monitor="val_loss",
    )
    result = fit_split(_tiny_model, _data, _data, tmp_path, cfg)
    assert result.stopped_early and result.epochs_done == 2
    assert result.weights_path.name == "best.weights.h5" and result.weights_path.is_file()
    again = fit_split(_tiny_model, _data, _data, tmp_path, cfg)
    assert again.epochs_done == 2, "a split that stopped early is finished"


def test_validation_monitor_without_validation_data_is_an_error(tmp_path):
    cfg = _train_cfg(checkpoint="best")
    with pytest.raises(ValueError, match="no validation data"):
        fit_split(_tiny_model, _data, None, tmp_path, cfg)


DISTRIBUTED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, sys.argv[1])
    from tests.cxr_core.training.test_training import _tiny_model, _data, _train_cfg
    from cxr_core.training.fit import fit_split, make_strategy
    from cxr_core.training.precision import set_precision
    out = {}
    for name, policy in (("default", None), ("mirrored", None), ("mirrored", "mixed_bfloat16")):
        set_precision(policy)
        keras.utils.set_random_seed(5)
        strategy = make_strategy(name)
        res = fit_split(_tiny_model, _data, _data, f"{sys.argv[2]}/{name}-{policy}", _train_cfg(epochs=2), strategy=strategy)
        set_precision(None)
        model = _tiny_model()
        model.load_weights(res.weights_path)
        x = next(iter(_data(0)))[0]
        out[f"{name}-{policy}"] = {"replicas": strategy.num_replicas_in_sync, "pred": model.predict(x, verbose=0).tolist()}
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_and_bfloat16(tmp_path):
    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-c", DISTRIBUTED, str(repo), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert result["mirrored-None"]["replicas"] == 2
    single = np.array(result["default-None"]["pred"])
    mirrored = np.array(result["mirrored-None"]["pred"])
    bf16 = np.array(result["mirrored-mixed_bfloat16"]["pred"])
    # Two replicas of 3 images each sum the same gradients as one batch of 6: same training up to round-off.
    np.testing.assert_allclose(mirrored, single, atol=1e-4)
    # bfloat16 keeps ~3 significant digits; after 8 Adam steps probabilities agree to a few 1e-2.
    np.testing.assert_allclose(bf16, single, atol=5e-2)
