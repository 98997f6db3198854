"""BatchNormalization's moving-variance update: Keras 3's biased batch variance or the unbiased one.

In training, BatchNormalization normalises with the batch variance ``v = mean((x - mean)^2)`` and
updates ``moving_variance = momentum * moving_variance + (1 - momentum) * v_update``. Keras 3 uses the
biased ``v_update = v``. TensorFlow 2's fused BatchNorm (tf.keras / Keras 2 on TF 2, CoroNet's
notebook [CN]) and PyTorch's ``BatchNorm2d`` (CORONA-Net [CR]) use the unbiased ``v_update = v * m / (m - 1)``, ``m`` the number of values per
channel in the batch (batch x height x width). With small batches (8 or 10 images of a 5x5 feature
map: m = 200 to 250) the difference is 0.4 to 0.5% of the moving variance that inference uses.

Keras 2.3.1 (standalone, CVR-Net [CVR-T]) is more particular. ``keras/layers/normalization.py`` takes
``variance`` from ``K.normalize_batch_in_training`` and then always does
``variance *= m / (m - (1.0 + epsilon))`` before ``K.moving_average_update`` (``x - (x - value) *
(1 - momentum)``, no zero-debiasing). Its TensorFlow backend's ``normalize_batch_in_training`` runs
``tf.nn.fused_batch_norm`` only ``and _is_tf_1()`` for a 4-D input reduced over (0, 1, 2); the fused op
already returns the unbiased variance, so under TensorFlow 1.x a convolution's BatchNorm is corrected
twice (``m / (m - 1) * m / (m - 1 - eps)``: +1/(m-1), +0.26% at m = 8 x 7 x 7 = 392); under TensorFlow
2.x (and for 2-D inputs) ``tf.nn.moments`` gives the biased variance, corrected once by
``m / (m - 1 - eps)`` (within 3e-6 relative of ``unbiased`` at m >= 392).

``train.bn_moving_variance`` (``biased`` | ``unbiased`` | ``keras231_tf2`` | ``keras231_tf1``) swaps
every plain ``keras.layers.BatchNormalization`` of a built model for the matching class below (same
weights, same config; only the moving-variance update differs). Layers with ``renorm`` or a mask keep
Keras 3's update (none of the three papers' models has either).
"""

from __future__ import annotations

import keras
from keras import ops

from cxr_core.config.choices import BN_MOVING_VARIANCES

BN_MOVING_VARIANCE = BN_MOVING_VARIANCES


@keras.saving.register_keras_serializable(package="cxr_core", name="UnbiasedMovingVarianceBatchNormalization")
class UnbiasedMovingVarianceBatchNormalization(keras.layers.BatchNormalization):
    """``BatchNormalization`` whose moving variance is updated with the unbiased batch variance.

    Output in training mode: the batch normalised with the biased batch variance (as every
    BatchNormalization); the update of ``moving_variance`` uses ``variance * m / (m - 1)``, ``m`` the
    number of reduced values per channel (TF 2 fused BatchNorm / PyTorch semantics). Inference and
    every other behaviour are Keras 3's.
    """

    def _variance_factor(self, m, ndim: int):
        """The factor taking the biased batch variance to the one the moving average receives."""
        return m / ops.maximum(m - 1.0, 1.0)

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or self.renorm or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        mean, variance = self._moments(x, None)
        shape = ops.shape(x)
        m = 1
        for axis in self._reduction_axes:
            m = m * shape[axis]
        m = ops.cast(m, compute_dtype)
        unbiased = variance * self._variance_factor(m, len(shape))
        moving_mean = ops.cast(self.moving_mean, compute_dtype)
        moving_variance = ops.cast(self.moving_variance, compute_dtype)
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum + unbiased * (1.0 - self.momentum))
        gamma = ops.cast(self.gamma, compute_dtype) if self.scale else None
        beta = ops.cast(self.beta, compute_dtype) if self.center else None
        out = ops.batch_normalization(x=x, mean=mean, variance=variance, axis=self.axis, offset=beta,
                                      scale=gamma, epsilon=self.epsilon)
        return ops.cast(out, self.compute_dtype)


@keras.saving.register_keras_serializable(package="cxr_core", name="Keras231TF2BatchNormalization")
class Keras231TF2BatchNormalization(UnbiasedMovingVarianceBatchNormalization):
    """Keras 2.3.1's moving-variance update on TensorFlow 2.x: ``tf.nn.moments`` (biased) times
    ``m / (m - (1 + epsilon))`` (module docstring)."""

    def _variance_factor(self, m, ndim: int):
        return m / ops.maximum(m - (1.0 + self.epsilon), 1.0)


@keras.saving.register_keras_serializable(package="cxr_core", name="Keras231TF1BatchNormalization")
class Keras231TF1BatchNormalization(UnbiasedMovingVarianceBatchNormalization):
    """Keras 2.3.1's moving-variance update on TensorFlow 1.x: for a 4-D input normalised over its last
    axis ``tf.nn.fused_batch_norm``'s unbiased variance times ``m / (m - (1 + epsilon))`` again (twice
    corrected); other inputs as :class:`Keras231TF2BatchNormalization`."""

    def _variance_factor(self, m, ndim: int):
        once = m / ops.maximum(m - (1.0 + self.epsilon), 1.0)
        fused = ndim == 4 and list(self._reduction_axes) == [0, 1, 2]
        return once * m / ops.maximum(m - 1.0, 1.0) if fused else once


_CLASSES = {"unbiased": UnbiasedMovingVarianceBatchNormalization, "keras231_tf2": Keras231TF2BatchNormalization,
            "keras231_tf1": Keras231TF1BatchNormalization}

# Keras 3's ``.weights.h5`` files address a layer inside a model by the snake-case name of its class
# (``layers/batch_normalization_3/vars``), so a file saved from a swapped model would not load into a
# plain one (evaluation, predict, export) nor the other way. With BatchNormalization's class name the
# paths are the same whichever update a model trains with; serialisation goes by the registered name.
for _cls in _CLASSES.values():
    _cls.__name__ = "BatchNormalization"


def _all_layers(model) -> list:
    seen, out, stack = set(), [], [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
        stack.extend(getattr(layer, "_layers", []) or [])
    return out


def set_bn_moving_variance(model, mode: str) -> int:
    """Make every plain BatchNormalization of ``model`` (nested models included) update its moving
    variance the ``mode`` way (``biased``: Keras 3; ``unbiased``: TF 2 fused / PyTorch; ``keras231_tf2`` /
    ``keras231_tf1``: Keras 2.3.1 on TensorFlow 2.x / 1.x, see the module docstring).

    Call after the model is built and before training (the training step is traced at ``fit``).
    Returns the number of BatchNormalization layers set. Raises ``ValueError`` for another ``mode``.
    """
    if mode not in BN_MOVING_VARIANCE:
        raise ValueError(f"train.bn_moving_variance must be one of {BN_MOVING_VARIANCE}; got {mode!r}")
    target = _CLASSES.get(mode, keras.layers.BatchNormalization)
    count = 0
    for layer in _all_layers(model):
        if type(layer) in (keras.layers.BatchNormalization, *_CLASSES.values()):
            layer.__class__ = target
            count += 1
    return count
