"""Optimizers by name (``train.optimizer.name``) and the option names each one takes.

:func:`make_optimizer` builds ``adam``, ``adamax``, ``sgd``, ``adamw``, ``rmsprop`` (Keras 3) or a
factory a model family adds (:attr:`cxr_core.family.TrainingPart.optimizers`); :func:`optimizer_parameters` lists
the keyword names ``train.optimizer.options`` may hold, read from the constructor's signature
(``inspect.signature``), so that a typo is found when the config is loaded, not at the first epoch.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

from cxr_core.errors import CxrError

BUILTIN_OPTIMIZERS = ("adam", "adamax", "sgd", "adamw", "rmsprop")


def family_optimizers() -> dict[str, Callable[..., Any]]:
    """Optimizer factories the model families add (:attr:`cxr_core.family.TrainingPart.optimizers`), by
    lower-case name: ``factory(learning_rate=..., **options)``."""
    from cxr_core.family import iter_families

    return {name.lower(): factory for family in iter_families() for name, factory in family.training.optimizers.items()}


def _builtin(key: str):
    import keras

    return {"adam": keras.optimizers.Adam, "adamax": keras.optimizers.Adamax, "sgd": keras.optimizers.SGD,
            "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop}[key]


def make_optimizer(name: str, learning_rate: Any, options: Mapping[str, Any] | None = None):
    """A Keras optimizer by name (adam, adamax, sgd, adamw, rmsprop, or one a model family adds).

    Raises:
        CxrError: an unknown name, naming the known ones.
    """
    options = dict(options or {})
    key = name.lower()
    added = family_optimizers() if key not in BUILTIN_OPTIMIZERS else {}
    if key in added:
        return added[key](learning_rate=learning_rate, **options)
    if key not in BUILTIN_OPTIMIZERS:
        raise CxrError(f"train.optimizer.name: unknown optimizer {name!r}; "
                       f"known: {sorted(BUILTIN_OPTIMIZERS) + sorted(added)}")
    return _builtin(key)(learning_rate=learning_rate, **options)


def keyword_names(func: Callable[..., Any], *, follow_bases: bool = False) -> set[str] | None:
    """The keyword parameter names of ``func`` (a function or a class), or None when it takes any
    (``**kwargs``). ``follow_bases``: a class whose ``__init__`` passes ``**kwargs`` on to its bases
    (Keras optimizers) takes the names of every base's ``__init__`` and no others."""
    targets = [c.__init__ for c in inspect.getmro(func) if "__init__" in vars(c) and c is not object] \
        if follow_bases and inspect.isclass(func) else [func]
    names: set[str] = set()
    for target in targets:
        params = inspect.signature(target).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not follow_bases and any(p.kind is p.VAR_KEYWORD for p in params):
            return None
    return names - {"self"}


def optimizer_parameters(name: str) -> set[str] | None:
    """The option names optimizer ``name`` takes (None: any, a family's factory with ``**options``;
    also None for an unknown name, which :func:`make_optimizer` reports)."""
    key = name.lower()
    if key in BUILTIN_OPTIMIZERS:
        return keyword_names(_builtin(key), follow_bases=True)
    added = family_optimizers()
    if key in added:
        return keyword_names(added[key])
    return None
