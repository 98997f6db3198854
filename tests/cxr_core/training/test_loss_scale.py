"""apex-like dynamic loss scaling on CPU, overflows forced: the 2**24 cap and a schedule that counts every
iteration, each compared with apex's ``LossScaler`` rule and loop written out below (apex/amp/scaler.py:
``_loss_scale = 2.**16``, ``_max_loss_scale = 2.**24``, ``_scale_seq_len = 2000``; on overflow the scale
halves and ``optimizer.step()`` is skipped, else after ``_scale_seq_len`` unskipped steps
``min(max, 2 * scale)``). Plain Keras ``LossScaleOptimizer`` fails both tests (no cap; a skipped step
holds the schedule back)."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from cxr_core.training.loss_scale import ApexLossScaleOptimizer, LoopCounterSchedule, loop_iterations


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _apex_scales(overflows, initial, seq_len, cap=2.0**24):
    """apex ``LossScaler.update_scale`` after each step (True = overflow)."""
    scale, unskipped, out = initial, 0, []
    for overflow in overflows:
        if overflow:
            scale, unskipped = scale / 2.0, 0
        else:
            unskipped += 1
            if unskipped == seq_len:
                scale, unskipped = min(cap, scale * 2.0), 0
        out.append(scale)
    return out


def _apply(opt, var, overflow: bool, grad: float = 1.0):
    scale = float(opt.dynamic_scale.numpy()) if opt.built else float(opt.initial_scale)
    g = np.inf if overflow else grad * scale  # gradients of the scaled loss
    opt.apply([keras.ops.convert_to_tensor([g], "float32")], [var])


def test_scale_is_capped_at_2_24_like_apex():
    pattern = [False] * 5 + [True] + [False] * 6 + [True, True] + [False] * 4
    var = keras.Variable([0.0])
    opt = ApexLossScaleOptimizer(keras.optimizers.SGD(1e-3), initial_scale=2.0**22, dynamic_growth_steps=2)
    ours = []
    for overflow in pattern:
        _apply(opt, var, overflow)
        ours.append(float(opt.dynamic_scale.numpy()))
    assert ours == _apex_scales(pattern, 2.0**22, 2)
    assert max(ours) == 2.0**24  # Keras alone reaches 2**25 here
    assert opt.get_config()["max_scale"] == 2.0**24


def test_schedule_counts_skipped_steps_as_apex_loop():
    """SGD with lr(step) = 0.5**step: apex's loop sets the rate from its counter every iteration and skips
    the update on overflow; the weights after the same forced overflows must be the same."""
    pattern = [False, True, False, False, True, True, False]
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    var = keras.Variable([0.0])
    opt = ApexLossScaleOptimizer(keras.optimizers.SGD(schedule), initial_scale=2.0**4, dynamic_growth_steps=100)
    for overflow in pattern:
        _apply(opt, var, overflow)
    apex_w = -sum(0.5**i for i, overflow in enumerate(pattern) if not overflow)  # loop counter i, every iteration
    np.testing.assert_allclose(var.numpy(), [apex_w], rtol=1e-6)
    assert int(opt.iterations.numpy()) == 4 and loop_iterations(opt) == len(pattern)  # applied / loop
    assert isinstance(opt.inner_optimizer._learning_rate, LoopCounterSchedule)
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.5 ** len(pattern))


def test_forced_overflow_in_a_mixed_float16_fit_skips_and_counts(monkeypatch):
    """A real Keras fit under mixed_float16 on CPU (simulated GPU), first batch non-finite: the step is
    skipped (weights unchanged), the scale halves from apex's 2**16, the loop counter still advances."""
    import tensorflow as tf

    from cxr_core.config.experiment import OptimizerConfig, TrainConfig
    from cxr_core.training import precision as P
    from cxr_core.training.fit import compile_model

    monkeypatch.setattr(P, "gpu_available", lambda: True)
    P.set_precision("mixed_float16_on_gpu")
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float32")(keras.layers.Dense(8)(inputs))
    model = compile_model(keras.Model(inputs, outputs),
                          TrainConfig(optimizer=OptimizerConfig("sgd", 1e-2), batch_size=2, epochs=1, verbose=0))
    assert isinstance(model.optimizer, ApexLossScaleOptimizer)
    assert model.layers[1].compute_dtype == "float16"
    x = np.ones((2, 4), "float32")
    y = np.eye(3, dtype="float32")[[0, 1]]
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(tf.data.Dataset.from_tensor_slices((x * np.inf, y)).batch(2), verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    assert float(model.optimizer.dynamic_scale.numpy()) == 2.0**15
    assert (int(model.optimizer.iterations.numpy()), loop_iterations(model.optimizer)) == (0, 1)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), verbose=0)
    assert (int(model.optimizer.iterations.numpy()), loop_iterations(model.optimizer)) == (1, 2)
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


def test_resume_checkpoint_and_config_keep_the_loop_counter(tmp_path):
    """A weights file (the resume checkpoint) restores the skipped-step count, so a resumed run's schedule
    continues at the loop's iteration; the optimizer's config round-trips (the schedule re-wrapped when built)."""
    def make():
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
        schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1, decay_rate=0.5)
        model.compile(optimizer=ApexLossScaleOptimizer(keras.optimizers.Adam(schedule)), loss="categorical_crossentropy")
        return model

    x, y = np.ones((4, 4), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    first = make()
    first.fit(x, y, batch_size=2, epochs=1, verbose=0)
    first.optimizer.skipped_steps.assign(3)
    first.save_weights(tmp_path / "resume.weights.h5")
    second = make()
    second.optimizer.build(second.trainable_variables)
    second.load_weights(tmp_path / "resume.weights.h5")
    assert (int(second.optimizer.iterations.numpy()), loop_iterations(second.optimizer)) == (2, 5)
    assert float(second.optimizer.learning_rate.numpy()) == pytest.approx(1e-3 * 0.5**5)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(first.optimizer))
    assert isinstance(again, ApexLossScaleOptimizer) and again.max_scale == 2.0**24
