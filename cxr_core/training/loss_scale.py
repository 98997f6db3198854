"""apex AMP's dynamic loss scaling in Keras: the 2**24 cap and a learning-rate schedule that counts
skipped overflow steps (CORONA-Net's apex O2 training [CR]; ``train.mixed_precision``).

apex ``LossScaler`` (apex/amp/scaler.py): scale 2**16, on overflow ``scale /= 2`` and the step skipped,
after 2000 unskipped steps ``scale = min(max_loss_scale, 2 * scale)`` with ``max_loss_scale`` 2**24.
Keras' ``LossScaleOptimizer`` does the same except the cap, and a skipped step leaves the inner
optimizer's iteration counter (the step a schedule sees) where it was, while the authors' loop
calls ``adjust_learning_rate`` every iteration [CR].
"""

from __future__ import annotations

import keras
from keras import ops

from cxr_core.training.precision import LOSS_SCALE_GROWTH_STEPS, LOSS_SCALE_INITIAL, LOSS_SCALE_MAX


@keras.saving.register_keras_serializable(package="cxr_core", name="LoopCounterSchedule")
class LoopCounterSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` evaluated at the training loop's iteration, skipped overflow steps included.

    The optimizer calls a schedule with its own counter of applied updates; ``skipped`` (an integer
    variable of :class:`ApexLossScaleOptimizer`) adds the steps a loss-scale overflow skipped, as
    apex's loop counter does: the authors call ``adjust_learning_rate(optimizer, epoch, i, ...)`` every
    iteration, skipped or not [CR]. Serialises as the wrapped schedule (re-wrapped when built).
    """

    def __init__(self, schedule, skipped):
        super().__init__()
        self.schedule = schedule
        self.skipped = skipped

    def __call__(self, step):
        return self.schedule(ops.add(ops.cast(step, "int64"), ops.cast(self.skipped, "int64")))

    def get_config(self) -> dict:
        return {"schedule": keras.saving.serialize_keras_object(self.schedule)}

    @classmethod
    def from_config(cls, config):
        return keras.saving.deserialize_keras_object(config["schedule"])


@keras.saving.register_keras_serializable(package="cxr_core", name="ApexLossScaleOptimizer")
class ApexLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Keras' dynamic loss scaling made to behave as apex AMP's ``LossScaler`` and training loop [CR].

    As Keras: the scale starts at ``initial_scale``, doubles after ``dynamic_growth_steps`` finite
    steps, halves on a non-finite gradient and that update is skipped (weights and the inner
    optimizer's moments and step count untouched, as ``optimizer.step()`` skipped by apex: torch Adam's
    ``state['step']`` does not advance either). Unlike Keras: (1) the scale never grows past
    ``max_scale`` (apex ``max_loss_scale`` 2**24); (2) a learning-rate schedule of the inner optimizer
    counts every iteration, skipped ones too (:class:`LoopCounterSchedule`; ``skipped_steps`` holds the
    count), as the authors' per-iteration ``adjust_learning_rate`` does. Stateful (TensorFlow) path only.
    """

    def __init__(self, inner_optimizer, initial_scale=LOSS_SCALE_INITIAL,
                 dynamic_growth_steps=LOSS_SCALE_GROWTH_STEPS, max_scale=LOSS_SCALE_MAX, name=None):
        super().__init__(inner_optimizer, initial_scale=initial_scale,
                         dynamic_growth_steps=dynamic_growth_steps, name=name)
        if float(max_scale) < float(initial_scale):
            raise ValueError(f"max_scale {max_scale} is below initial_scale {initial_scale}")
        self.max_scale = float(max_scale)

    def build(self, var_list):
        super().build(var_list)
        self.skipped_steps = self.add_variable(shape=(), dtype="int", initializer="zeros",
                                               aggregation="none", name="skipped_steps")
        rate = self.inner_optimizer._learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            self.inner_optimizer._learning_rate = LoopCounterSchedule(rate, self.skipped_steps)

    def _stateful_handle_finite_grads(self, grads, trainable_variables):
        super()._stateful_handle_finite_grads(grads, trainable_variables)
        self.dynamic_scale.assign(ops.minimum(self.dynamic_scale, self.max_scale))

    def _stateful_handle_non_finite_grads(self):
        super()._stateful_handle_non_finite_grads()
        self.skipped_steps.assign_add(1)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError("ApexLossScaleOptimizer runs on the TensorFlow backend (stateful apply) only")

    def get_config(self) -> dict:
        return {**super().get_config(), "max_scale": self.max_scale}


def loop_iterations(optimizer) -> int:
    """The training loop's iteration count: applied updates plus skipped overflow steps."""
    skipped = getattr(optimizer, "skipped_steps", None)
    return int(optimizer.iterations.numpy()) + (int(skipped.numpy()) if skipped is not None else 0)
