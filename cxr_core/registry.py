"""The model registry: how ``cxr_core`` finds paper packages without importing them.

Each paper package exposes a :class:`ModelFamily` and declares it in ``setup.cfg`` under the
entry-point group ``covid_cxr.models`` (``coronet = coronet_tf:FAMILY``). The CLI and the protocol
look families up by name with :func:`get_family`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Mapping

ENTRY_POINT_GROUP = "covid_cxr.models"


@dataclass(frozen=True)
class Preset:
    """A frozen set of published choices.

    ``values`` is a nested mapping with the sections of an experiment config (``data``,
    ``preprocess``, ``augment``, ``model``, ``train``, ``protocol``, ``published``); ``notes`` maps
    ``"section.field"`` to a one-line note with its source tag from spec/PAPERS.md, for every field
    that differs between a family's presets.
    """

    name: str
    values: Mapping[str, Any]
    notes: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class ModelFamily:
    """What the shared machinery needs to know about one paper's model."""

    name: str
    build: Callable[..., Any]
    presets: Mapping[str, Preset]
    load_weights: Callable[[Any, str], Any] | None = None
    last_conv_layer: str | None = None
    description: str = ""
    output_kind: str = "probabilities"
    """``probabilities`` (softmax output) or ``logits``; multi-output models give the classes first."""
    init_weights: Callable[[Any, str], Any] | None = None
    """``init_weights(model, path)`` for ``model.init_from``: start from another model's weights."""
    fit: Callable[..., Any] | None = None
    """Replaces :func:`cxr_core.training.fit_split` for families with their own schedule (CORONA-Net's
    two phases). Called as ``fit(cfg, build_model, make_train_data, make_val_data, out_dir,
    class_weight=..., strategy=...)`` and returns a :class:`cxr_core.training.FitResult`."""
    convert: Callable[[str, str], Any] | None = None
    """``convert(src, dst)`` for ``covid-cxr convert``: the authors' weights of another framework."""

    def preset(self, name: str) -> Preset:
        """The preset called ``name``; the error lists the ones that exist."""
        try:
            return self.presets[name]
        except KeyError:
            raise KeyError(
                f"model family {self.name!r} has no preset {name!r}; available: {sorted(self.presets)}"
            ) from None


def available_families() -> dict[str, metadata.EntryPoint]:
    """Entry points of the installed model families, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


_FALLBACK = {"coronet": "coronet_tf:FAMILY", "cvrnet": "cvrnet_tf:FAMILY", "coronanet": "coronanet_tf:FAMILY"}


def get_family(name: str) -> ModelFamily:
    """Load the model family registered as ``name``.

    Families come from the ``covid_cxr.models`` entry points; the three paper packages of this
    repository are also found when it runs from a source checkout that was not pip-installed.
    """
    eps = available_families()
    if name in eps:
        family = eps[name].load()
    elif name in _FALLBACK:
        import importlib

        module, attr = _FALLBACK[name].split(":")
        try:
            family = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"model family {name!r} could not be loaded from {_FALLBACK[name]}: {exc}") from exc
    else:
        known = sorted(set(eps) | set(_FALLBACK))
        raise KeyError(f"unknown model family {name!r}; registered families: {known}")
    if not isinstance(family, ModelFamily):
        raise TypeError(f"entry point {name!r} gave {type(family).__name__}, expected cxr_core.registry.ModelFamily")
    return family
