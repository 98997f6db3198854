"""train.mixed_precision: mixed_float16_on_gpu resolves per machine, loss scaling as apex, the run says which ran.

CORONA-Net's authors trained with apex AMP O2 [CR] (fp16 model, fp32 master weights and BatchNorm,
dynamic loss scaling starting at 2**16). The device query is monkeypatched to simulate a GPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import keras

from cxr_core.training import precision as P
from cxr_core.training import fit as T
from cxr_core.config.experiment import OptimizerConfig, TrainConfig, resolve_config
from cxr_core.training import precision


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _tiny_model():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def _data(first_epoch: int):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 12)]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(6)


def _train(**kw) -> TrainConfig:
    return TrainConfig(**{"optimizer": OptimizerConfig("adam", 1e-2), "batch_size": 6, "epochs": 1, "verbose": 0, **kw})


def test_resolves_to_float32_on_this_cpu_and_without_gpu(monkeypatch):
    # the real device query: float32 on a CPU-only machine (mixed_float16 where a GPU is visible)
    assert P.resolve_precision("mixed_float16_on_gpu") == ("mixed_float16" if P.gpu_available() else "float32")
    monkeypatch.setattr(P, "gpu_available", lambda: False)
    assert precision.set_precision("mixed_float16_on_gpu") == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert P.resolve_precision(None) == "float32"
    assert P.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="train.mixed_precision"):
        P.resolve_precision("float16")


def test_simulated_gpu_gives_mixed_float16_and_apex_like_loss_scaling(monkeypatch):
    monkeypatch.setattr(P, "gpu_available", lambda: True)
    assert P.resolve_precision("mixed_float16_on_gpu") == "mixed_float16"
    assert precision.set_precision("mixed_float16_on_gpu") == "mixed_float16"
    model = T.compile_model(_tiny_model(), _train())
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(model.optimizer.initial_scale) == 2.0**16  # apex LossScaler's 2**16, not Keras' 2**15
    assert model.optimizer.dynamic_growth_steps == 2000
    # fp16 compute, fp32 variables (apex O2's master weights) and fp32 BatchNorm statistics
    dense, bn = model.layers[1], model.layers[2]
    assert dense.compute_dtype == "float16" and dense.kernel.dtype == "float32"
    assert bn.moving_variance.dtype == "float32"
    info = P.precision_of(model)
    assert info["policy"] == "mixed_float16" and info["loss_scaling"].startswith("dynamic (initial 65536")


def test_fit_records_which_precision_ran(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "gpu_available", lambda: False)
    precision.set_precision("mixed_float16_on_gpu")
    keras.utils.set_random_seed(0)
    cpu = T.fit_split(_tiny_model, _data, None, tmp_path / "fold_0", _train(), learning_rate=1e-2)
    assert cpu.precision == {"policy": "float32", "loss_scaling": None}

    monkeypatch.setattr(P, "gpu_available", lambda: True)
    precision.set_precision("mixed_float16_on_gpu")
    gpu = T.fit_split(_tiny_model, _data, None, tmp_path / "fold_1" / "phase2", _train(), learning_rate=1e-2)
    assert gpu.precision["policy"] == "mixed_float16" and gpu.precision["loss_scaling"].startswith("dynamic")
    sessions = json.loads((tmp_path / "fold_1" / "phase2" / "checkpoints" / "precision.json").read_text())
    assert sessions == [{"first_epoch": 1, **gpu.precision}]
    notes = P.precision_notes(tmp_path)
    assert notes[0] == "precision of fold_0: float32"
    assert notes[1].startswith("precision of fold_1/phase2: mixed_float16 with dynamic (initial 65536")


def test_report_lists_the_run_notes(tmp_path):
    from cxr_core.evaluation import metrics as M
    from cxr_core.report.markdown import write_run_report

    y = np.array([0, 1, 2, 0, 1, 2])
    res = M.evaluate_predictions(y, np.eye(3)[y] * 0.8 + 0.1, ["a", "b", "c"], n_boot=0)
    note = "precision of fold_0/phase2: mixed_float16 with dynamic (initial 65536, ...) loss scaling"
    write_run_report(tmp_path, {"name": "t", "run_notes": [note]}, [res], None, n_boot=0)
    assert f"- {note}" in (tmp_path / "report.md").read_text()


def test_coronanet_authors_code_asks_for_mixed_float16_on_gpu():
    cfg = resolve_config({"preset": "coronanet/authors_code"})
    assert cfg.train.mixed_precision == "mixed_float16_on_gpu"
    assert resolve_config({"preset": "coronanet/paper"}).train.mixed_precision is None
    with pytest.raises(Exception, match="mixed_precision"):
        resolve_config({"preset": "coronanet/authors_code", "train": {"mixed_precision": "fp16"}})
