"""Expected parameter counts: total, trainable and non-trainable, as a model summary prints them.

A config records the published counts of the model it describes (``extra.expected_params``, or a
family's own section), in one of three spellings:

- ``[total, trainable, non_trainable]`` (the order of a Keras ``model.summary()``), e.g. CoroNet
  Table II [S4]: ``[33969964, 33915436, 54528]``;
- a mapping with any of ``total``, ``trainable``, ``non_trainable`` (a count the paper does not
  publish is left out);
- a single integer: the total only (the older form).

:func:`compare_param_counts` checks a built model against them and names every count that differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cxr_core.config.schema import NonNegInt
from cxr_core.errors import CxrError


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts; ``None`` where not known (not checked). Trainable + non-trainable = total."""

    total: NonNegInt | None = None
    trainable: NonNegInt | None = None
    non_trainable: NonNegInt | None = None


ParamCountSpec = NonNegInt | tuple[NonNegInt, NonNegInt, NonNegInt] | ParamCounts
"""The schema of an expected-count field (see the module docstring)."""


def as_param_counts(spec: Any) -> ParamCounts | None:
    """A spelling of :data:`ParamCountSpec` (already checked at config load) as :class:`ParamCounts`."""
    if spec is None or isinstance(spec, ParamCounts):
        return spec
    if isinstance(spec, Mapping):
        return ParamCounts(**{k: None if v is None else int(v) for k, v in spec.items()})
    if isinstance(spec, (list, tuple)):
        total, trainable, non_trainable = (int(v) for v in spec)
        return ParamCounts(total, trainable, non_trainable)
    return ParamCounts(total=int(spec))


def model_param_counts(model) -> ParamCounts:
    """Total, trainable and non-trainable parameter counts of a built Keras model."""
    import numpy as np

    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    frozen = int(sum(int(np.prod(w.shape)) for w in model.non_trainable_weights))
    return ParamCounts(total=trainable + frozen, trainable=trainable, non_trainable=frozen)


def compare_param_counts(model, expected: Any, *, key: str, context: str = "") -> ParamCounts:
    """Raise ``ValueError`` when ``model``'s counts differ from ``expected`` (any spelling).

    The message names the config ``key``, each differing count (found and expected) and
    ``context`` (input size, classes). Returns the model's counts.
    """
    want = as_param_counts(expected)
    got = model_param_counts(model)
    if want is None:
        return got
    wrong = [(name, getattr(got, name), getattr(want, name)) for name in ("total", "trainable", "non_trainable")
             if getattr(want, name) is not None and getattr(got, name) != getattr(want, name)]
    if wrong:
        parts = "; ".join(f"{name.replace('_', '-')} {g:,} parameters, the config expects {w:,}" for name, g, w in wrong)
        raise CxrError(f"{key}: the model {context + ' ' if context else ''}has {parts}")
    return got
