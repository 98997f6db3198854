"""CORONA-Net learning-rate schedule [CR] (PAPERS.md §3.4) and the coupled-L2 Adam."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from coronanet_tf.schedule import AdamL2, CoronaNetSchedule, coronanet_lr


def _formula(step, spe, base=1e-4, batch=12, world=1):
    """PAPERS.md §3.4 written out: lr*batch*world/256 * 0.1**(epoch//30 + [epoch>=80]), warm-up 5 epochs."""
    lr = base * batch * world / 256
    epoch, i = divmod(step, spe)
    lr *= 0.1 ** (epoch // 30 + (1 if epoch >= 80 else 0))
    if epoch < 5:
        lr *= (1 + i + epoch * spe) / (5 * spe)
    return lr


@pytest.mark.parametrize("spe", [1, 7, 1379])
def test_schedule_matches_formula(spe):
    sched = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=spe)
    steps = [0, 1, spe - 1, spe, 5 * spe - 1, 5 * spe, 29 * spe + 3, 30 * spe, 59 * spe, 60 * spe,
             79 * spe, 80 * spe, 89 * spe, 90 * spe, 120 * spe, 989 * spe + spe - 1]
    for step in steps:
        got = float(sched(step))
        # abs: from epoch ~900 the lr (~1e-38) is below float32's normal range and flushes to 0
        assert got == pytest.approx(_formula(step, spe), rel=1e-5, abs=1e-37), step
        assert got == pytest.approx(coronanet_lr(step, 1e-4, 12, spe), rel=1e-5, abs=1e-37), step


def test_schedule_landmarks():
    sched = CoronaNetSchedule(1e-4, batch_size=12, steps_per_epoch=100, world_size=2)
    lr0 = 1e-4 * 24 / 256
    assert sched.scaled_lr == pytest.approx(lr0)
    assert CoronaNetSchedule(1e-4, 12, 10).scaled_lr == pytest.approx(4.6875e-6)  # PAPERS.md §3.4
    assert float(sched(0)) == pytest.approx(lr0 / 500, rel=1e-5)
    assert float(sched(499)) == pytest.approx(lr0, rel=1e-5)
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
