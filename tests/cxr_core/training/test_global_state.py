"""Keras' dtype policy and TensorFlow's op determinism are put back after a run (issue 16, part 5)."""

from __future__ import annotations

import keras
import pytest
from tensorflow.python.framework import config as tf_config

from cxr_core.training.global_state import restored_global_state


def _state():
    return keras.mixed_precision.global_policy().name, bool(tf_config.is_op_determinism_enabled())


def _change_like_a_run():
    from cxr_core.training.fit import seed_everything
    from cxr_core.training.precision import set_precision

    set_precision("mixed_bfloat16")
    seed_everything(3, True)
    assert _state() == ("mixed_bfloat16", True)


def test_restored_on_return_and_on_exception():
    keras.mixed_precision.set_global_policy("float32")  # a known start: earlier tests may have left it set
    tf_config.disable_op_determinism()
    before = _state()
    assert before == ("float32", False)
    with restored_global_state():
        _change_like_a_run()
    assert _state() == before
    with pytest.raises(RuntimeError), restored_global_state():
        _change_like_a_run()
        raise RuntimeError("fold 0 failed")
    assert _state() == before


def test_a_set_state_is_restored_too():
    keras.mixed_precision.set_global_policy("mixed_float16")
    tf_config.enable_op_determinism()
    try:
        with restored_global_state():
            keras.mixed_precision.set_global_policy("float32")
            tf_config.disable_op_determinism()
        assert _state() == ("mixed_float16", True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        tf_config.disable_op_determinism()


@pytest.mark.parametrize("fails", [False, True])
def test_run_experiment_restores_what_the_run_set(monkeypatch, tmp_path, fails):
    """``run_experiment`` around the protocol: the protocol's own setters, then a return or a failure."""
    import cxr_core

    def protocol(cfg, run_dir, folds=None, smoke=False):
        _change_like_a_run()
        if fails:
            raise RuntimeError("interrupted")

    monkeypatch.setattr("cxr_core.protocol.run.run_protocol", protocol)
    before = _state()
    try:
        cxr_core.run_experiment({"name": "x", "preset": "coronet/authors_code"}, data=tmp_path, run_dir=tmp_path / "r")
    except RuntimeError:
        assert fails
    assert _state() == before
