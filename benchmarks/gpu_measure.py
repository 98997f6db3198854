"""Timing helpers of bench_gpu.py: Keras ``fit``/``predict`` on the project's models and pipeline.

Every training number comes from ``model.fit`` of a model compiled by
:func:`cxr_core.training.fit.compile_model` (the project's optimizer, loss and XLA switch: the training
step users run). A measurement is one ``fit`` of two epochs of ``steps`` steps each: epoch 1 traces
(and, with XLA, compiles) and warms up, epoch 2 is timed (its end waits for the device: the loss is
read back). Peak device memory comes from ``tf.config.experimental.get_memory_info`` (GPU only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

PRECISIONS = ("float32", "mixed_float16", "mixed_float16+xla")


def precision_mode(mode: str) -> tuple[str, bool]:
    """``"mixed_float16+xla"`` -> (Keras dtype policy, jit_compile)."""
    if mode not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {mode!r}")
    policy, _, xla = mode.partition("+")
    return policy, bool(xla)


def gpu_name() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return "GPU:0" if gpus else None


def reset_peak_memory() -> None:
    import tensorflow as tf

    if gpu_name():
        tf.config.experimental.reset_memory_stats("GPU:0")


def peak_memory_gib() -> float | None:
    """Peak device memory since the last reset, GiB; None on CPU (TensorFlow reports none there)."""
    import tensorflow as tf

    if not gpu_name():
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30


def _epoch_clock():
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begins, self.ends = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.begins.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            float((logs or {}).get("loss", 0.0))  # reading the loss waits for the device
            self.ends.append(time.perf_counter())

    return EpochClock()


def epoch_seconds(model, dataset, steps: int, epochs: int = 2) -> list[float]:
    """Wall time of each of ``epochs`` epochs of ``steps`` steps of ``model.fit`` on ``dataset``."""
    clock = _epoch_clock()
    model.fit(dataset, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[clock], shuffle=False)
    return [e - b for b, e in zip(clock.begins, clock.ends)]


@dataclass
class StepTiming:
    """Epoch 1 (trace, compile, warm-up) and the steady step time of epoch 2."""

    first_epoch_s: float
    step_s: float
    batch: int

    @property
    def images_per_s(self) -> float:
        return self.batch / self.step_s


def train_timing(model, dataset, *, steps: int, batch: int) -> StepTiming:
    first, second = epoch_seconds(model, dataset, steps, epochs=2)
    return StepTiming(first_epoch_s=first, step_s=second / steps, batch=batch)


def in_memory(dataset, n_batches: int):
    """The first ``n_batches`` batches of ``dataset`` materialised and served again forever (no
    decoding, augmentation or scaling left; Keras still copies each batch to the device, ahead of
    the step)."""
    import tensorflow as tf

    batches = list(dataset.take(n_batches))
    xs = tf.concat([b[0] for b in batches], 0) if not isinstance(batches[0][0], dict) else None
    if xs is None:
        raise ValueError("in_memory expects float batches (placement host)")
    ys = tf.concat([b[1] for b in batches], 0)
    size = int(batches[0][0].shape[0])
    return tf.data.Dataset.from_tensor_slices((xs, ys)).batch(size).repeat().prefetch(2), xs


def predict_images_per_s(model, xs, *, batch: int, steps: int) -> float:
    """``model.predict`` throughput on in-memory images (second of two calls; the first traces)."""
    import tensorflow as tf

    n = min(int(xs.shape[0]), batch * steps)
    ds = tf.data.Dataset.from_tensor_slices(xs[:n]).batch(batch)
    model.predict(ds, verbose=0)
    t0 = time.perf_counter()
    model.predict(ds, verbose=0)
    return n / (time.perf_counter() - t0)


def fill_cache(dataset, n_images: int, batch: int) -> None:
    """Iterate one full pass so a ``cache()`` in the pipeline is complete before timing."""
    for _ in dataset.take(n_images // batch + 1):
        pass
