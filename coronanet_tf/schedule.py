"""CORONA-Net's learning-rate schedule and its Adam with coupled L2 weight decay [CR].

Both reproduce the authors' PyTorch training script (docs/PAPERS.md §3.4, paper NOT RETRIEVED):

- ``args.lr = args.lr * batch_size * world_size / 256`` (1e-4 -> 4.6875e-6 at batch 12, 1 GPU);
- ``adjust_learning_rate`` per iteration: ``factor = epoch // 30`` (+1 from epoch 80),
  ``lr * 0.1**factor``, and during the first 5 epochs a linear warm-up
  ``lr * (1 + step + epoch * len_epoch) / (5 * len_epoch)`` (NVIDIA's apex ImageNet example), where
  [CR]'s ``train`` loop sets ``i = 0`` and runs ``i += 1`` BEFORE ``adjust_learning_rate(optimizer,
  epoch, i, len(train_loader))``: ``step`` is 1 at an epoch's first iteration and ``len_epoch`` at its
  last. The first update therefore uses ``lr * 2 / (5 * len_epoch)``, and the last warm-up update
  (epoch 4, ``step = len_epoch``) ``lr * (1 + 5 * len_epoch) / (5 * len_epoch)``, slightly above
  ``lr`` (``warmup_first_count=1``, the default);
- ``torch.optim.Adam(params, lr, weight_decay=1e-4)``: L2 added to the gradient (``g + wd * w``)
  BEFORE the moment estimates (coupled; not AdamW), epsilon 1e-8 added to
  ``sqrt(v_hat)`` (torch form, not Keras' ``epsilon_hat`` form).

Deviation: the schedule is evaluated in float32, so after about epoch 900 (factor >= 31, lr below
1e-37) the learning rate flushes to 0 where [CR]'s Python float stays positive; both are no update
in practice.
"""

from __future__ import annotations

import keras
from keras import ops


class CoronaNetSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The authors' per-iteration schedule [CR] as a Keras schedule.

    ``lr(step) = base_lr * batch_size * world_size / 256 * gamma**factor * warm``, with
    ``epoch = step // steps_per_epoch``, ``factor = epoch // step_epochs + (epoch >= extra_drop_epoch)``
    and ``warm = (1 + step + warmup_first_count) / (warmup_epochs * steps_per_epoch)`` while
    ``epoch < warmup_epochs`` (else 1). ``step`` is the optimizer's iteration counter (0 for the first
    update); [CR]'s per-epoch counter ``i`` is ``step % steps_per_epoch + warmup_first_count``.

    Args:
        base_lr: the unscaled ``--lr`` (1e-4 in [CR]).
        batch_size: per-process batch (12 in [CR]).
        steps_per_epoch: iterations per epoch (``len(train_loader)``).
        world_size: number of processes (GPUs); the global batch is ``batch_size * world_size``.
        warmup_epochs / step_epochs / extra_drop_epoch / gamma: 5 / 30 / 80 / 0.1 in [CR].
        reference_batch: 256 in [CR].
        warmup_first_count: the value of [CR]'s per-epoch iteration counter ``i`` at an epoch's first
            update: 1 in [CR] (``i += 1`` precedes ``adjust_learning_rate``; first update
            ``lr * 2 / (5 * steps_per_epoch)``); 0 gives the warm-up the example's comment intends
            (first update ``lr / (5 * steps_per_epoch)``, last warm-up update exactly ``lr``).
    """

    def __init__(
        self,
        base_lr: float,
        batch_size: int,
        steps_per_epoch: int,
        world_size: int = 1,
        warmup_epochs: int = 5,
        step_epochs: int = 30,
        extra_drop_epoch: int | None = 80,
        gamma: float = 0.1,
        reference_batch: int = 256,
        warmup_first_count: int = 1,
    ):
        super().__init__()
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1; found {steps_per_epoch}")
        self.base_lr = float(base_lr)
        self.batch_size = int(batch_size)
        self.steps_per_epoch = int(steps_per_epoch)
        self.world_size = int(world_size)
        self.warmup_epochs = int(warmup_epochs)
        self.step_epochs = int(step_epochs)
        self.extra_drop_epoch = None if extra_drop_epoch is None else int(extra_drop_epoch)
        self.gamma = float(gamma)
        self.reference_batch = int(reference_batch)
        if warmup_first_count not in (0, 1):
            raise ValueError(f"warmup_first_count must be 0 or 1 (the counter [CR] starts at 1); found {warmup_first_count}")
        self.warmup_first_count = int(warmup_first_count)

    @property
    def scaled_lr(self) -> float:
        """``base_lr * batch_size * world_size / reference_batch`` (4.6875e-6 for [CR]'s defaults)."""
        return self.base_lr * self.batch_size * self.world_size / self.reference_batch

    def __call__(self, step):
        step = ops.cast(step, "float32")
        spe = float(self.steps_per_epoch)
        epoch = ops.floor(step / spe)
        factor = ops.floor(epoch / float(self.step_epochs))
        if self.extra_drop_epoch is not None:
            factor = factor + ops.cast(epoch >= float(self.extra_drop_epoch), "float32")
        lr = self.scaled_lr * ops.power(self.gamma, factor)
        warm = (1.0 + self.warmup_first_count + step) / (self.warmup_epochs * spe) if self.warmup_epochs > 0 else 1.0
        if self.warmup_epochs > 0:
            lr = ops.where(epoch < float(self.warmup_epochs), lr * warm, lr)
        return lr

    def get_config(self) -> dict:
        return {
            "base_lr": self.base_lr,
            "batch_size": self.batch_size,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.world_size,
            "warmup_epochs": self.warmup_epochs,
            "step_epochs": self.step_epochs,
            "extra_drop_epoch": self.extra_drop_epoch,
            "gamma": self.gamma,
            "reference_batch": self.reference_batch,
            "warmup_first_count": self.warmup_first_count,
        }


def coronanet_lr(step: int, base_lr: float, batch_size: int, steps_per_epoch: int, world_size: int = 1,
                 warmup_first_count: int = 1) -> float:
    """The same schedule in plain Python, written like [CR]'s ``adjust_learning_rate``, for checks.

    ``step`` is the 0-based optimizer iteration; [CR]'s counter is ``i = step % steps_per_epoch + 1``.
    """
    lr0 = base_lr * float(batch_size * world_size) / 256.0
    epoch, i = divmod(int(step), int(steps_per_epoch))
    i += int(warmup_first_count)
    factor = epoch // 30
    if epoch >= 80:
        factor += 1
    lr = lr0 * (0.1**factor)
    if epoch < 5:
        lr = lr * float(1 + i + epoch * steps_per_epoch) / (5.0 * steps_per_epoch)
    return lr


class AdamL2(keras.optimizers.Adam):
    """``torch.optim.Adam(weight_decay=l2)`` in Keras: coupled L2, torch's epsilon placement [CR].

    Update per variable ``w`` with gradient ``g`` at step ``t``::

        g = g + l2 * w
        m = b1 * m + (1 - b1) * g ;  v = b2 * v + (1 - b2) * g**2
        w = w - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + epsilon)

    Differs from ``keras.optimizers.Adam(weight_decay=...)``, which decays decoupled (AdamW-like),
    and from Keras' epsilon placement (``sqrt(v) + epsilon`` before bias correction). Defaults are
    torch's (``epsilon=1e-8``).
    """

    def __init__(self, learning_rate=1e-3, l2: float = 1e-4, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "adam_l2", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=False, name=name, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        if self.l2:
            gradient = ops.add(gradient, ops.multiply(ops.cast(self.l2, dtype), variable))
        t = ops.cast(self.iterations + 1, dtype)
        bias1 = 1 - ops.power(ops.cast(self.beta_1, dtype), t)
        bias2 = 1 - ops.power(ops.cast(self.beta_2, dtype), t)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denom = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(bias2)), self.epsilon)
        self.assign_sub(variable, ops.multiply(ops.divide(lr, bias1), ops.divide(m, denom)))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("amsgrad", None)
        config["l2"] = self.l2
        return config


def adam_l2(learning_rate, **options) -> AdamL2:
    """``train.optimizer.name: adam_l2`` (``FAMILY.training.optimizers``): torch ``Adam(weight_decay=l2)``
    (coupled L2) [CR]."""
    return AdamL2(learning_rate=learning_rate, **options)
