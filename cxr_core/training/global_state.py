"""Keras/TensorFlow process-wide settings a run changes, restored when it is over.

A run sets Keras' global dtype policy (``train.mixed_precision``,
:func:`cxr_core.training.precision.set_precision`) and may turn on TensorFlow's op determinism
(``train.deterministic``, :func:`cxr_core.training.fit.seed_everything`); both outlive the run in the
process. The command line exits afterwards, but a Python session (:func:`cxr_core.api.run_experiment`,
a notebook) goes on, and the next model it builds would silently be ``mixed_float16``.
:func:`restored_global_state` puts both back as they were, also when the run raises.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["restored_global_state"]


def _determinism():
    """TensorFlow's op-determinism switch: ``(is_enabled, enable, disable)``. Only ``enable`` is in the
    public API (``tf.config.experimental.enable_op_determinism``); reading and clearing it is in
    ``tensorflow.python.framework.config`` (TF 2.9 to 2.21 at least)."""
    import tensorflow as tf
    from tensorflow.python.framework import config

    return config.is_op_determinism_enabled, tf.config.experimental.enable_op_determinism, config.disable_op_determinism


@contextlib.contextmanager
def restored_global_state() -> Iterator[None]:
    """On exit (normal or by exception), Keras' global dtype policy and TensorFlow's op determinism
    are what they were on entry. Imports Keras and TensorFlow."""
    import keras

    policy = keras.mixed_precision.global_policy().name
    is_enabled, enable, disable = _determinism()
    deterministic = bool(is_enabled())
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)
        if bool(is_enabled()) != deterministic:
            (enable if deterministic else disable)()
