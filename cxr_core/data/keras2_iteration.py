"""Steps per epoch and sample order as Keras 2 ran a ``flow_from_directory`` iterator.

The authors' codes train with ``steps_per_epoch = n // batch`` and ``validation_steps = n_val // batch``
[CN] [CVR-T] on a keras-preprocessing ``DirectoryIterator``: a ``Sequence`` of ``ceil(n / batch)``
batches, the last one partial, whose ``index_array`` (a fresh permutation when ``shuffle=True``) is
drawn when a pass over the data starts (first ``__getitem__``, then every ``on_epoch_end``). How the
``n // batch`` steps of an epoch are taken from it depends on the Keras that ran it
(``train.steps_mode``):

``full_pass``
    ours by default: every epoch is one full pass, the last partial batch included.
``keras2_floor_wraparound``
    standalone Keras 2.3.1 ``fit_generator`` [CVR-T]: one ``OrderedEnqueuer`` per iterator for the
    whole run (training enqueuer with ``shuffle=True``: the batch order of each pass is shuffled too;
    validation enqueuer in order). Epochs take the next ``steps`` batches of that endless stream, so
    each epoch continues where the last one stopped, no image is dropped over a run, and the
    validation window drifts (CVR-Net Task-1: 1,277 validation images, 159 steps of 160 batches).
``tf_keras_floor_restart``
    ``tf.keras`` 2.2+ ``fit``/``fit_generator`` on a ``Sequence`` (``KerasSequenceAdapter``) [CN]: the
    iterator is recreated every epoch (``should_recreate_iterator() == True``), so every epoch starts
    a fresh pass (a new permutation) and stops after ``steps`` batches; training shuffles the batch
    order (``fit(shuffle=True)``), evaluation does not. CoroNet's notebook ran this way (TensorFlow
    2.x on Colab): all 80 of its logged ``val_acc`` values are multiples of 1/270 (27 full batches of
    10), none of 1/267 as a drifting window holding the 7-image partial batch would give [CN-old].

With ``shuffle=False`` the wrap-around stream is exactly keras-preprocessing's ``Iterator._flow_index``
(tested against ``keras_preprocessing.image.Iterator``). Random draws come from
``np.random.default_rng(seed)`` rather than Keras' global NumPy / ``random`` state: same
distribution (a uniform permutation per pass, a uniform batch order), not the same numbers.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import tensorflow as tf

from cxr_core.config.choices import STEPS_MODES
from cxr_core.seeds import validation_data_seed
from cxr_core.errors import CxrError



def floor_steps(n: int, batch_size: int, what: str = "training") -> int:
    """``n // batch_size`` (Keras 2 authors' ``STEP_SIZE = n // batch``); at least one batch needed."""
    if n < batch_size:
        raise CxrError(
            f"train.steps_mode: {what} has {n} images, fewer than one batch of {batch_size}; "
            "n // batch steps would be 0 (use train.steps_mode: full_pass)"
        )
    return int(n) // int(batch_size)


def steps_for_mode(mode: str, n_train: int, n_val: int, batch_size: int) -> tuple[int | None, int | None]:
    """``(steps_per_epoch, validation_steps)`` for ``mode``: ``(None, None)`` for ``full_pass``
    (Keras runs each dataset to its end), else the floors (111 / 27 for CoroNet's 1,119 / 277 images
    in batches of 10 [CN-old]; 635 / 159 for CVR-Net's 5,080 / 1,277 in batches of 8 [CVR-T])."""
    if mode not in STEPS_MODES:
        raise ValueError(f"train.steps_mode must be one of {STEPS_MODES}; got {mode!r}")
    if mode == "full_pass":
        return None, None
    val = floor_steps(n_val, batch_size, "validation") if n_val else None
    return floor_steps(n_train, batch_size), val


def sequence_passes(n: int, batch_size: int, *, shuffle_samples: bool, shuffle_batches: bool,
                    rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless index batches of a Keras ``Sequence`` over ``n`` samples, pass after pass.

    Each pass: ``index_array`` = a permutation of ``range(n)`` (``shuffle_samples``) or ``range(n)``;
    its ``ceil(n / batch_size)`` slices ``index_array[b*i : b*(i+1)]`` in order, or in a shuffled order
    (``shuffle_batches``, Keras' ``OrderedEnqueuer(shuffle=True)`` / ``fit(shuffle=True)``).
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"need n >= 1 and batch_size >= 1; got n={n}, batch_size={batch_size}")
    n_batches = -(-n // batch_size)
    while True:
        index_array = rng.permutation(n) if shuffle_samples else np.arange(n)
        order = rng.permutation(n_batches) if shuffle_batches else range(n_batches)
        for i in order:
            yield index_array[batch_size * i: batch_size * (i + 1)]


def epoch_batches(mode: str, n: int, batch_size: int, steps: int, *, shuffle_samples: bool,
                  shuffle_batches: bool, seed: int) -> Iterator[list[np.ndarray]]:
    """Endless epochs (each a list of ``steps`` index batches) as ``mode`` takes them (module docstring).

    The same arguments always give the same epochs, so a resumed run can skip the finished ones.
    """
    if mode not in ("keras2_floor_wraparound", "tf_keras_floor_restart"):
        raise ValueError(f"epoch_batches: mode must be keras2_floor_wraparound or tf_keras_floor_restart; got {mode!r}")
    rng = np.random.default_rng(seed)
    if mode == "keras2_floor_wraparound":
        stream = sequence_passes(n, batch_size, shuffle_samples=shuffle_samples,
                                 shuffle_batches=shuffle_batches, rng=rng)
        while True:
            yield [next(stream) for _ in range(steps)]
    while True:
        one_pass = sequence_passes(n, batch_size, shuffle_samples=shuffle_samples,
                                   shuffle_batches=shuffle_batches, rng=rng)
        yield [next(one_pass) for _ in range(steps)]


def training_index_batches(mode: str, n: int, batch_size: int, steps: int, epochs: int, first_epoch: int,
                           seed: int, *, shuffle: bool = True) -> Callable[[], Iterator[np.ndarray]]:
    """For :func:`~cxr_core.data.pipeline.build_dataset` (``index_batches``): the training batches of
    epochs ``first_epoch .. epochs-1``, one after the other (Keras 3 keeps a training iterator across
    epochs when ``steps_per_epoch`` is set). Batch order shuffled as Keras 2 did for training."""
    def batches() -> Iterator[np.ndarray]:
        epochs_iter = epoch_batches(mode, n, batch_size, steps, shuffle_samples=shuffle,
                                    shuffle_batches=shuffle, seed=seed)
        for epoch in range(epochs):
            chosen = next(epochs_iter)
            if epoch >= first_epoch:
                yield from chosen
    return batches


def validation_index_batches(mode: str, n: int, batch_size: int, steps: int, first_epoch: int, seed: int,
                             *, shuffle: bool = True) -> Callable[[], Iterator[np.ndarray]]:
    """For ``build_dataset(index_batches=...)`` on validation data: each new iteration of the dataset
    (Keras 3 restarts the validation dataset at every evaluation) gives the NEXT epoch's ``steps``
    batches, so the Keras 2 window drifts as it did. ``shuffle``: the iterator's ``shuffle`` (Keras
    evaluates batches in order either way)."""
    epochs_iter = epoch_batches(mode, n, batch_size, steps, shuffle_samples=shuffle, shuffle_batches=False,
                                seed=seed)
    for _ in range(first_epoch):
        next(epochs_iter)

    def batches() -> Iterator[np.ndarray]:
        yield from next(epochs_iter)
    return batches


def dataset_from_index_batches(index_batches: Callable[[], Iterator[np.ndarray]],
                               load_one: Callable, batch_size: int) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of batches ``load_one`` builds, one per index batch ``index_batches()``
    yields (batches may be partial: the last batch of a pass). Images of a batch load in parallel."""
    def gen():
        for batch in index_batches():
            yield np.asarray(batch, dtype=np.int64)

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec([None], tf.int64))
    return ds.flat_map(
        lambda idx: tf.data.Dataset.from_tensor_slices(idx)
        .map(load_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size)
    )


def keras2_fit_plan(mode: str, n_train: int, n_val: int, batch_size: int, epochs: int, first_epoch: int,
                    seed: int, *, val_shuffle: bool = True):
    """Everything a protocol needs for ``train.steps_mode``: ``None`` for ``full_pass``, else
    ``(steps_per_epoch, validation_steps, train_index_batches, val_index_batches)`` (the last None
    without validation data) for ``build_dataset(index_batches=...)`` and ``fit_split``.
    ``val_shuffle``: the validation iterator's ``shuffle`` (True in both authors' codes [CN] [CVR-T])."""
    steps, val_steps = steps_for_mode(mode, n_train, n_val, batch_size)
    if steps is None:
        return None
    train = training_index_batches(mode, n_train, batch_size, steps, epochs, first_epoch, seed)
    val = (validation_index_batches(mode, n_val, batch_size, val_steps, first_epoch, validation_data_seed(seed), shuffle=val_shuffle)
           if val_steps else None)
    return steps, val_steps, train, val
