"""CORONA-Net trains full passes (PyTorch DataLoader, drop_last=False [CR]); Keras 2's n // batch steps are refused."""

from __future__ import annotations

import pytest
import tensorflow as tf

from coronanet_tf.training import steps_per_epoch_of
from cxr_core.config.schema import ConfigError


def test_full_pass_counts_the_batches_of_one_pass():
    ds = tf.data.Dataset.range(23).batch(5)  # len(DataLoader(23 items, batch 5, drop_last=False)) = 5
    assert steps_per_epoch_of(ds, None) == 5 == steps_per_epoch_of(ds, None, "full_pass")
    assert steps_per_epoch_of(ds, 3) == 3


@pytest.mark.parametrize("mode", ["keras2_floor_wraparound", "tf_keras_floor_restart"])
def test_keras2_steps_modes_are_refused_with_the_key(mode):
    with pytest.raises(ConfigError, match=rf"train.steps_mode: CORONA-Net trains with full passes.*{mode}.*"
                       r"--set train.steps_mode=full_pass"):
        steps_per_epoch_of(tf.data.Dataset.range(4).batch(2), None, mode)


@pytest.mark.parametrize("preset", ["paper", "authors_code"])
def test_authors_loop_has_no_callbacks_and_full_passes(preset):
    """The authors' loop [CR]: no early stopping, no plateau schedule (the step schedule is its own), one
    full pass per epoch."""
    from cxr_core.config.experiment import resolve_config

    train = resolve_config({"preset": f"coronanet/{preset}"}).train
    assert (train.early_stopping, train.reduce_lr, train.steps_mode) == (None, None, "full_pass")
    assert train.steps_per_epoch is None and train.validation_steps is None
