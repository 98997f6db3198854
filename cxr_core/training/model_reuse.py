"""One compiled model for every fold (and training phase) of a run: no retracing between folds.

Building a model and tracing its training step (``model.fit``'s first step: 8-45 s per fold on a
2-core CPU, an XLA compilation per fold on a GPU) costs the same in every fold, because every fold
trains the same graph. With ``train.reuse_model_across_folds: true`` (the default) the protocol
(:func:`cxr_core.protocol.run.run_protocol_steps`) opens a :func:`reusing_models` session and
:func:`cxr_core.training.fit.fit_split` asks it for its model (:func:`compiled_model`):

- the fold's fresh model is still built, from the fold's own seed, exactly as without reuse (ImageNet
  backbone loaded, ``model.init_from`` applied, BatchNorm settings): it is the source of the fold's
  initial values and is then dropped; building is cheap next to tracing;
- when a model of the same structure was compiled earlier in the run with the same optimizer, loss,
  metrics, learning rate (or schedule config), XLA switch, precision policy and strategy, every
  variable of that model (weights, BatchNorm statistics, random-seed states) is assigned the fresh
  model's values, its optimizer variables go back to their values at compile time (iteration 0,
  moments zero, the configured learning rate, the initial loss scale) and its metrics are reset; its
  traced ``train_function`` / ``test_function`` are kept. Callbacks are made anew by each fit.
- otherwise the fresh model is compiled and kept for the next fold (at most :data:`MAX_MODELS` per
  session: CORONA-Net's two phases each keep theirs).

The reset model equals a fresh build variable for variable (the values are copied, not re-drawn),
so each fold trains from the same start as without reuse; ``tests/cxr_core/training/test_model_reuse.py``
checks the fold predictions agree. Not reused: models wrapped for ``augment.placement: device``
(their augmentation layers are rebuilt per fold), and layers whose config cannot be read
(``get_config`` not implemented). Cost: the session holds its compiled models (and their optimizer
slots) until the run ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

log = logging.getLogger(__name__)

MAX_MODELS = 2
"""Compiled models one session keeps (the most recently used)."""


@dataclass
class _Kept:
    model: Any
    optimizer_start: list = field(default_factory=list)  # (variable, ("fill", value) | ("array", values))


class ModelReuse:
    """The compiled models of one run, by graph key (structure + compile settings)."""

    def __init__(self, max_models: int = MAX_MODELS):
        self.max_models = max_models
        self._kept: dict[tuple, _Kept] = {}
        self.reused = 0

    def take(self, fresh, compile_fn: Callable[[Any], Any], compile_key: tuple):
        """A compiled model starting from ``fresh``'s values: ``fresh`` compiled by ``compile_fn``,
        or a kept model of the same graph reset to ``fresh``'s values (see the module docstring)."""
        structure = structure_key(fresh)
        if structure is None:
            compile_fn(fresh)
            return fresh
        key = (structure, compile_key)
        kept = self._kept.pop(key, None)
        if kept is None or not _same_variables(kept.model, fresh):
            compile_fn(fresh)
            optimizer = fresh.optimizer
            if not optimizer.built:
                optimizer.build(fresh.trainable_variables)
            kept = _Kept(fresh, _optimizer_start(optimizer))
        else:
            for target, source in zip(kept.model.variables, fresh.variables):
                target.assign(source)
            _restore_optimizer(kept.optimizer_start)
            kept.model.reset_metrics()
            kept.model.stop_training = False
            self.reused += 1
            log.info("reusing the compiled model of an earlier fold (traced steps kept); weights, optimizer "
                     "and metrics reset to this fold's fresh start (train.reuse_model_across_folds)")
        self._kept[key] = kept  # most recent last
        while len(self._kept) > self.max_models:
            self._kept.pop(next(iter(self._kept)))
        return kept.model

    def clear(self) -> None:
        self._kept.clear()


_SESSION: contextvars.ContextVar[ModelReuse | None] = contextvars.ContextVar("cxr_model_reuse", default=None)


@contextlib.contextmanager
def reusing_models(enabled: bool = True) -> Iterator[ModelReuse | None]:
    """Within this block :func:`compiled_model` reuses compiled models (``enabled``); the models are
    released when it ends. Sessions nest: an inner ``reusing_models(False)`` turns reuse off."""
    session = ModelReuse() if enabled else None
    token = _SESSION.set(session)
    try:
        yield session
    finally:
        _SESSION.reset(token)
        if session is not None:
            session.clear()


def compiled_model(fresh, compile_fn: Callable[[Any], Any], compile_key: tuple):
    """``fresh`` compiled by ``compile_fn`` outside a :func:`reusing_models` session; inside one,
    :meth:`ModelReuse.take`. ``compile_key``: everything ``compile_fn`` puts into the graph besides
    the model (:func:`compile_key_of`)."""
    session = _SESSION.get()
    if session is None:
        compile_fn(fresh)
        return fresh
    return session.take(fresh, compile_fn, compile_key)


def compile_key_of(train, learning_rate: Any, metrics, strategy, policy: str) -> tuple:
    """The compile settings that shape the traced step: optimizer (name, options), learning rate
    (value, or a schedule's class and config), loss, metrics, XLA switch, BatchNorm moving-variance
    update, dtype policy and the strategy object (a layer's own settings, e.g. BatchNorm momentum,
    are in :func:`structure_key`)."""
    lr = train.optimizer.learning_rate if learning_rate is None else learning_rate
    if hasattr(lr, "get_config"):
        try:
            lr_key = (type(lr).__module__, type(lr).__qualname__, _dumps(lr.get_config()))
        except NotImplementedError:
            lr_key = ("object", id(lr))
    else:
        lr_key = ("value", repr(lr))
    return (train.optimizer.name, _dumps(dict(train.optimizer.options or {})), lr_key, train.loss,
            tuple(metrics), bool(train.jit_compile), train.bn_moving_variance, policy, id(strategy))


def structure_key(model) -> str | None:
    """A digest of ``model``'s layers (class, config without the name, trainable), its variables
    (shape, dtype, trainable) and its input/output shapes; None when a layer's config cannot be read.
    Nested models contribute their layers (their own config, which names auto-numbered layers, is
    left out)."""
    rows: list = []
    for layer in all_layers(model):
        if hasattr(layer, "layers"):  # a nested model: its layers come next
            rows.append((type(layer).__qualname__, bool(layer.trainable)))
            continue
        try:
            config = {k: v for k, v in layer.get_config().items() if k != "name"}
        except NotImplementedError:
            return None
        rows.append((type(layer).__module__, type(layer).__qualname__, _dumps(config), bool(layer.trainable)))
    rows.append([(tuple(v.shape), str(v.dtype), bool(v.trainable)) for v in model.variables])
    rows.append([tuple(t.shape) for t in model.inputs] + [tuple(t.shape) for t in model.outputs])
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def all_layers(model) -> Iterator[Any]:
    """Every layer of ``model`` once, depth first in ``model.layers`` order (Keras' public API): a
    nested model (anything with ``layers``) is followed by its own layers. A custom layer's inner
    sublayers are not listed (Keras lists them only privately); its config and variables stand for them."""
    seen: set[int] = set()
    stack = list(reversed(model.layers))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:  # a layer (or nested model) used twice
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(getattr(layer, "layers", None) or []))


def _same_variables(a, b) -> bool:
    va, vb = a.variables, b.variables
    return len(va) == len(vb) and all(tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype for x, y in zip(va, vb))


def _optimizer_variables(optimizer) -> list:
    out, seen = [], set()
    for opt in (optimizer, getattr(optimizer, "inner_optimizer", None)):
        for v in getattr(opt, "variables", None) or []:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def _optimizer_start(optimizer) -> list:
    """Each optimizer variable's value now (before any step): one number when every element is the
    same (zeros, iteration 0, the learning rate, the loss scale), else a copy."""
    start = []
    for v in _optimizer_variables(optimizer):
        value = np.asarray(v.numpy())
        if value.size and np.all(value == value.flat[0]):
            start.append((v, ("fill", value.flat[0].item())))
        else:
            start.append((v, ("array", value.copy())))
    return start


def _restore_optimizer(start: list) -> None:
    from keras import ops

    for v, (kind, value) in start:
        v.assign(ops.full(tuple(v.shape), value, dtype=v.dtype) if kind == "fill" else value)


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, default=repr)
