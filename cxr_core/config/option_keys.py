"""``model.options`` and ``train.optimizer.options`` checked against the parameters of the code that takes
them: the family's builder and the optimizer's constructor (``inspect.signature``). A typo there would
otherwise reach Python as ``TypeError: got an unexpected keyword argument`` after the images were read.
"""

from __future__ import annotations

from typing import Any

from cxr_core.config.schema import ConfigError

#: Passed by the model builder itself (:func:`cxr_core.models.build.model_builder`), never by options.
BUILDER_ARGUMENTS = ("num_classes", "input_shape", "backbone_weights")


def _refuse(origin: str, key: str, found: str, allowed: list[str], whose: str) -> None:
    detail = f"unknown key {key}.{found} for {whose}; allowed: {allowed}"
    raise ConfigError(f"{origin}: {detail}", key=f"{key}.{found}", detail=detail)


def check_option_keys(cfg: Any, origin: str) -> None:
    """Raise :class:`ConfigError` naming ``origin`` and the first unknown key of ``model.options``
    (against the builder of ``cfg.model.family``, less :data:`BUILDER_ARGUMENTS`) or of
    ``train.optimizer.options`` (against :func:`~cxr_core.training.optimizers.optimizer_parameters`).
    A builder or factory taking ``**kwargs`` accepts every key. Only non-empty options are checked, so a
    config without any loads without importing the builder's module (nor Keras, nor TensorFlow)."""
    from cxr_core.family import get_family, resolved
    from cxr_core.training.optimizers import keyword_names, optimizer_parameters

    family = get_family(cfg.model.family)
    taken = keyword_names(resolved(family.model.build)) if cfg.model.options else None
    if taken is not None:
        allowed = sorted(taken - set(BUILDER_ARGUMENTS))
        for found in cfg.model.options:
            if found not in allowed:
                _refuse(origin, "model.options", found, allowed, f"model family {cfg.model.family}'s builder")
    opt = cfg.train.optimizer
    taken = optimizer_parameters(opt.name) if opt.options else None
    if taken is not None:
        allowed = sorted(taken - {"learning_rate"})
        for found in opt.options:
            if found not in allowed:
                _refuse(origin, "train.optimizer.options", found, allowed, f"optimizer {opt.name}")
