"""Does a batch's value range fit the preset's input scaling? (like torchxrayvision's range warning)

A model trained on ``rescale01`` inputs gives confident nonsense on 0-255 pixels, and CVR-Net's
``raw255`` model (raw 0-255 RGB into its backbones [CVR-T]) gives nonsense on [0, 1] inputs; no
error is raised either way. :func:`check_input_range` looks at the values of one batch and logs one
WARNING naming the expected and the found range when they do not fit; :func:`check_first_batch`
does it for the first batch of a ``tf.data`` dataset where batches enter training or prediction.
Each ``(where, scaling)`` warns once per process.

Expected ranges (:data:`EXPECTED_RANGE`, from :func:`cxr_core.data.decode.images.scale_pixels`):
``rescale01`` [0, 1], ``minus1_1`` [-1, 1], ``imagenet`` [-2.118, 2.640] (``(x/255 - mean) / std``),
``raw255`` [0, 255]. A batch does not fit when it leaves the range by more than
:data:`TOLERANCE` of the range's width, or when it is squeezed into [0, 1] where a scaling that
spans much more (``raw255``, ``imagenet``) was expected (a batch already scaled to [0, 1]).
Augmentation (shifts of the channel values, ``channel_shift_range``) stays within the tolerance.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

_MEAN = np.array((0.485, 0.456, 0.406))
_STD = np.array((0.229, 0.224, 0.225))

#: scaling -> (low, high) of a correctly scaled input.
EXPECTED_RANGE: dict[str, tuple[float, float]] = {
    "rescale01": (0.0, 1.0),
    "minus1_1": (-1.0, 1.0),
    "imagenet": (float((-_MEAN / _STD).min()), float(((1 - _MEAN) / _STD).max())),
    "raw255": (0.0, 255.0),
}
#: Allowed excursion beyond the expected range, as a fraction of its width.
TOLERANCE = 0.1

_WARNED: set[tuple[str, str]] = set()


def range_problem(x, scaling: str) -> str | None:
    """Why the values of ``x`` (any array) do not fit ``scaling``, or None when they do.

    Raises ValueError for an unknown scaling.
    """
    if scaling not in EXPECTED_RANGE:
        raise ValueError(f"unknown scaling {scaling!r}; expected one of {sorted(EXPECTED_RANGE)}")
    values = np.asarray(x, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = EXPECTED_RANGE[scaling]
    found_low, found_high = float(finite.min()), float(finite.max())
    slack = TOLERANCE * (high - low)
    expected = f"[{low:g}, {high:g}]"
    found = f"[{found_low:.3g}, {found_high:.3g}]"
    if found_low < low - slack or found_high > high + slack:
        hint = " (0-255 pixels where scaled values are expected?)" if found_high > 2 * high + 1 else ""
        return f"expected values in {expected} for scaling {scaling!r}, found {found}{hint}"
    if high - low > 2.5 and found_low >= -slack and found_high <= 1.0 + slack and found_high > found_low:
        return (f"expected values spanning {expected} for scaling {scaling!r}, found {found} (inputs already "
                "scaled to [0, 1]?)")
    return None


def check_input_range(x, scaling: str | None, *, where: str = "input") -> bool:
    """Log one WARNING (once per ``(where, scaling)`` and process) when ``x`` does not fit ``scaling``.

    Returns True when the values fit (or ``scaling`` is None: nothing to check).
    """
    if scaling is None:
        return True
    problem = range_problem(x, scaling)
    if problem is None:
        return True
    key = (where, scaling)
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning("%s: %s; the model will give meaningless outputs. Check preprocess.scaling and the "
                    "data you pass in.", where, problem)
    return False


def first_inputs(batch):
    """The model input of a dataset element: ``x`` of ``(x, y[, w])``, else the element itself."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def check_first_batch(dataset, scaling: str | None, *, where: str = "input") -> bool:
    """:func:`check_input_range` on the first batch of ``dataset`` (a ``tf.data.Dataset`` or any
    iterable of batches); an empty dataset fits. Reads one batch (the pipeline's first element is
    decoded once more)."""
    if scaling is None:
        return True
    for batch in (dataset.take(1) if hasattr(dataset, "take") else dataset):
        x = first_inputs(batch)
        if isinstance(x, dict):  # device augmentation serves raw uint8 images with parameters
            return True
        return check_input_range(np.asarray(x), scaling, where=where)
    return True


def with_range_check(dataset, scaling: str | None, *, where: str = "input"):
    """``dataset`` unchanged, except that its first batch's inputs pass through
    :func:`check_input_range` as they are served (no batch is read twice, so a cached or
    file-cached pipeline is not disturbed). Elements ``(x, y[, w])`` or ``x``; a dataset serving
    raw images with device-augmentation parameters (a dict) is returned as it is."""
    import tensorflow as tf

    if scaling is None:
        return dataset
    if not hasattr(dataset, "element_spec"):  # any iterable of batches
        return _checked_iterable(dataset, scaling, where)
    spec = dataset.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if isinstance(x_spec, dict):
        return dataset
    done = [False]

    def look(x):
        if not done[0]:
            done[0] = True
            check_input_range(x.numpy(), scaling, where=where)
        return True

    def check(*element):
        x = element[0]
        flag = tf.py_function(look, [x], Tout=tf.bool)
        with tf.control_dependencies([flag]):
            x = tf.identity(x)
        return (x, *element[1:]) if len(element) > 1 else x

    return dataset.map(check)


def _checked_iterable(batches, scaling: str, where: str):
    for i, batch in enumerate(batches):
        if i == 0 and not isinstance(first_inputs(batch), dict):
            check_input_range(np.asarray(first_inputs(batch)), scaling, where=where)
        yield batch


def reset_warnings() -> None:
    """Forget which warnings were given (tests)."""
    _WARNED.clear()
