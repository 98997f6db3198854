"""CORONA-Net learning-rate schedule [CR] (docs/PAPERS.md §3.4) and the coupled-L2 Adam."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from coronanet_tf.schedule import AdamL2, CoronaNetSchedule, coronanet_lr


def _authors_lrs(epochs, spe, base=1e-4, batch=12, world=1):
    """[CR]'s loop written out (CORONANET.py ``main``/``train``/``adjust_learning_rate``, docs/PAPERS.md §3.4):
    ``args.lr = lr*batch*world/256``; per epoch ``i = 0``, per iteration ``i += 1`` THEN
    ``adjust_learning_rate(optimizer, epoch, i, len(train_loader))``: ``factor = epoch//30``
    (+1 from epoch 80), ``lr*0.1**factor``, warm-up ``lr*(1 + i + epoch*len)/(5*len)`` for epoch < 5.
    Returns the rate of every update, in order."""
    lr0 = base * float(batch * world) / 256.
    rates = []
    for epoch in range(epochs):
        i = 0
        for _ in range(spe):
            i += 1
            factor = epoch // 30
            if epoch >= 80:
                factor = factor + 1
            lr = lr0 * (0.1 ** factor)
            if epoch < 5:
                lr = lr * float(1 + i + epoch * spe) / (5. * spe)
            rates.append(lr)
    return rates


@pytest.mark.parametrize("spe", [1, 7, 23])
def test_schedule_matches_authors_loop(spe):
    """Every update of 990 epochs (the authors' --epochs) against [CR]'s loop written out."""
    sched = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=spe)
    want = np.array(_authors_lrs(990, spe))
    got = np.asarray(keras.ops.convert_to_numpy(sched(np.arange(want.size))), dtype=np.float64)
    # abs: from epoch ~900 the lr (~1e-38) is below float32's normal range and flushes to 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-37)
    python = [coronanet_lr(step, 1e-4, 12, spe) for step in range(want.size)]
    np.testing.assert_allclose(python, want, rtol=1e-12, atol=0)


def test_warmup_counter_starts_at_one():
    """[CR]: ``i += 1`` precedes ``adjust_learning_rate`` -> first update lr*2/(5*spe), not lr/(5*spe)."""
    spe = 1379
    lr0 = 1e-4 * 12 / 256
    sched = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=spe)
    assert float(sched(0)) == pytest.approx(lr0 * 2 / (5 * spe), rel=1e-6)
    assert float(sched(0)) == pytest.approx(_authors_lrs(1, spe)[0], rel=1e-6)
    # last warm-up update (epoch 4, i = len): (1 + 5*len)/(5*len) > 1
    assert float(sched(5 * spe - 1)) == pytest.approx(lr0 * (1 + 5 * spe) / (5 * spe), rel=1e-6)
    assert float(sched(5 * spe)) == pytest.approx(lr0, rel=1e-6)
    plain = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=spe, warmup_first_count=0)
    assert float(plain(0)) == pytest.approx(lr0 / (5 * spe), rel=1e-6)
    assert float(plain(5 * spe - 1)) == pytest.approx(lr0, rel=1e-6)
    with pytest.raises(ValueError, match="warmup_first_count"):
        CoronaNetSchedule(1e-4, 12, spe, warmup_first_count=2)


def test_schedule_landmarks():
    sched = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=100, world_size=2)
    lr0 = 1e-4 * 24 / 256
    assert sched.scaled_lr == pytest.approx(lr0)
    assert CoronaNetSchedule(1e-4, 12, 10).scaled_lr == pytest.approx(4.6875e-6)  # docs/PAPERS.md §3.4
    assert float(sched(0)) == pytest.approx(lr0 * 2 / 500, rel=1e-5)
    assert float(sched(498)) == pytest.approx(lr0, rel=1e-5)
    assert float(sched(499)) == pytest.approx(lr0 * 501 / 500, rel=1e-5)
    assert float(sched(500)) == pytest.approx(lr0, rel=1e-5)
    assert float(sched(3000)) == pytest.approx(lr0 * 0.1, rel=1e-5)
    assert float(sched(7999)) == pytest.approx(lr0 * 0.01, rel=1e-5)
    assert float(sched(8000)) == pytest.approx(lr0 * 1e-3, rel=1e-4)  # 80//30 = 2, +1 from epoch 80
    assert float(sched(9000)) == pytest.approx(lr0 * 1e-4, rel=1e-4)


def test_schedule_and_optimizer_config_roundtrip():
    sched = CoronaNetSchedule(1e-4, 12, 50, world_size=4)
    again = CoronaNetSchedule.from_config(sched.get_config())
    assert again.get_config() == sched.get_config()
    opt = AdamL2(learning_rate=sched, l2=1e-4)
    config = opt.get_config()
    assert config["l2"] == 1e-4 and config["epsilon"] == 1e-8
    restored = AdamL2.from_config(
        config, custom_objects={"CoronaNetSchedule": CoronaNetSchedule}
    )
    assert restored.l2 == 1e-4


def test_adam_l2_matches_numpy_reference():
    """Three steps of torch's Adam(weight_decay) written in numpy (torch itself: test_convert.py)."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4,)).astype(np.float32)
    grads = rng.normal(size=(3, 4)).astype(np.float32)
    var = keras.Variable(w.copy())
    opt = AdamL2(learning_rate=1e-2, l2=1e-2)
    m = np.zeros(4); v = np.zeros(4); ref = w.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        g = g + 1e-2 * ref
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 1e-2 / (1 - 0.9**t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999**t) + 1e-8)
    np.testing.assert_allclose(np.asarray(var), ref, atol=1e-6)


def test_schedule_under_apex_loss_scaling_follows_the_loop_through_skipped_steps():
    """apex O2 [CR]: ``adjust_learning_rate`` runs every iteration, overflow or not. With forced overflows
    on CPU, the rate of every applied update equals ``_authors_lrs`` at the loop's iteration."""
    from cxr_core.training.loss_scale import ApexLossScaleOptimizer

    spe, pattern = 3, [False, True, False, True, True, False, False, True, False]
    rates = _authors_lrs(5, spe)
    var = keras.Variable([0.0])
    opt = ApexLossScaleOptimizer(keras.optimizers.SGD(CoronaNetSchedule(1e-4, 12, spe)), initial_scale=8.0)
    for overflow in pattern:
        scale = float(opt.dynamic_scale.numpy()) if opt.built else 8.0
        opt.apply([keras.ops.convert_to_tensor([np.inf if overflow else scale], "float32")], [var])
    want = -sum(rate for rate, overflow in zip(rates, pattern) if not overflow)
    np.testing.assert_allclose(var.numpy(), [want], rtol=1e-5)
    np.testing.assert_allclose(float(opt.learning_rate.numpy()), rates[len(pattern)], rtol=1e-6)
