"""The model registry: how ``cxr_core`` finds paper packages without importing them.

Each paper package exposes a :class:`ModelFamily` and declares it in ``setup.cfg`` under the
entry-point group ``covid_cxr.models`` (``<name> = <package>:FAMILY``). The CLI and the protocol
look families up by name with :func:`get_family`; :func:`register_family` adds one at run time (a
test's tiny family, a notebook's experiment) and :func:`unregister_family` removes it again.

Everything a paper knows and the core needs (published tables, report layouts, smoke sizes, class
aliases, readers, dataset recipes, its ``extra`` settings schema, the model variants of a multi-phase
fit) travels in the :class:`ModelFamily` record, so the core names no paper.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from cxr_core.errors import CxrLookupError

ENTRY_POINT_GROUP = "covid_cxr.models"


@dataclass(frozen=True)
class Preset:
    """A frozen set of published choices.

    ``values`` is a nested mapping with the sections of an experiment config (``data``,
    ``preprocess``, ``augment``, ``model``, ``train``, ``protocol``, ``published``); ``notes`` maps
    ``"section.field"`` to a one-line note with its source tag from docs/PAPERS.md, for every field
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
    """Replaces :func:`cxr_core.training.fit.fit_split` for families with their own schedule (several
    phases). Called as ``fit(cfg, build_model, make_train_data, make_val_data, out_dir,
    class_weight=..., strategy=..., build_bare=..., variants=...)`` where ``build_bare`` builds the
    model without pretrained weights (for loading a checkpoint into) and ``variants`` maps each
    name of :attr:`fit_variants` to a builder; returns a :class:`cxr_core.training.fit.FitResult`."""
    fit_variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Model variants a multi-phase :attr:`fit` builds besides the config's model: variant name ->
    config overrides (e.g. ``{"phase1": {"model": {"options": {"with_decoder": True}}}}``). The
    orchestrator hands ``fit`` one builder per variant, so no family imports the orchestrator."""
    convert: Callable[[str, str], Any] | None = None
    """``convert(src, dst)`` for ``covid-cxr convert``: the authors' weights of another framework."""

    published: Sequence[Any] = ()
    """The paper's published tables (:class:`cxr_core.report.published.PublishedTable` records), in paper
    order; keys look like ``<family>/<table>``."""
    published_aliases: Mapping[str, str] = field(default_factory=dict)
    """Key aliases a preset may name: regular expression -> published key. Named groups of the
    expression become the selection handed to the report layout (digits as ``int``), e.g.
    ``{r"^x/abstract_task(?P<task>\\d)$": "x/abstract"}``."""
    report_layouts: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Published key -> metric-per-row comparison ``layout(key, config, folds, pooled, *,
    selection)`` returning ``(frame, heading, notes)`` (see :mod:`cxr_core.report.comparison`)."""
    class_aliases: Mapping[str, str] = field(default_factory=dict)
    """Label spellings that mean the same class, after :func:`cxr_core.report.comparison.canonical_label`
    normalisation (lower case, letters and digits only): alias -> canonical name, e.g.
    ``{"covid19": "covid"}``. Used to line published rows up with our class names."""
    class_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Named class orders of the paper (e.g. ``{"authors_code": (...)}``) for readers and presets."""
    smoke_image_size: int | None = 96
    """Square input side of a smoke run; ``None`` keeps the configured size (a model that only
    works at its published input)."""
    smoke_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Extra config overrides of a smoke run (e.g. cutting the epochs of the family's own phases),
    deep-merged over :func:`cxr_core.config.experiment.smoke_overrides`."""
    readers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Dataset readers the family adds as ``data.format`` values: name -> ``reader(source, *,
    class_names, image_dir, drop_duplicates, on_error)`` returning a
    :class:`cxr_core.data.tables.sample_table.SampleTable`."""
    recipes: Mapping[str, Any] = field(default_factory=dict)
    """Dataset recipes of the paper (how to assemble its published data set), by name."""
    extra_schema: Any = None
    """Schema of the family's ``extra.<family>`` config section, checked when a config is loaded
    (``None``: the family has no own section)."""
    recognise_weights: Callable[[Any], bool] | None = None
    """``recognise_weights(summary) -> bool``: whether a weight file (a
    :class:`cxr_core.weights.files.WeightFileSummary`, read without unpickling) looks like this family's,
    so loading the wrong family's file fails in one line naming the family it fits."""
    explain_branches: bool | Mapping[str, str] = False
    """Grad-CAM draws one panel per branch (plus the averaged output) when the model's output is an
    ``Average`` of pooled branches (:func:`cxr_core.explain.gradcam.average_branches`); else one panel. A
    mapping (tapped layer name -> branch title, e.g. ``"ResNet50 stage 3"``) also names the panels;
    the feature map's size is added to the title."""

    def preset(self, name: str) -> Preset:
        """The preset called ``name``; the error lists the ones that exist."""
        try:
            return self.presets[name]
        except KeyError:
            raise CxrLookupError(
                f"model family {self.name!r} has no preset {name!r}; available: {sorted(self.presets)}"
            ) from None


_REGISTERED: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily, *, replace: bool = False) -> ModelFamily:
    """Make ``family`` available to :func:`get_family` under ``family.name`` (before any entry
    point of that name). Raises ``ValueError`` when the name is taken, unless ``replace``."""
    if not isinstance(family, ModelFamily):
        raise TypeError(f"register_family: expected a cxr_core.family.ModelFamily, found {type(family).__name__}")
    if not replace and (family.name in _REGISTERED or family.name in _entry_points()):
        raise ValueError(f"model family {family.name!r} is already registered; pass replace=True to replace it")
    _REGISTERED[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family added by :func:`register_family` (entry points stay). KeyError if absent."""
    try:
        del _REGISTERED[name]
    except KeyError:
        raise KeyError(f"model family {name!r} was not registered with register_family") from None


def _source_checkout_entry_points() -> dict[str, str]:
    """``name -> "module:attr"`` from ``setup.cfg`` beside this package (a source checkout that was
    not pip-installed); empty when there is none."""
    setup_cfg = Path(__file__).resolve().parents[1] / "setup.cfg"
    if not setup_cfg.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    text = parser.get("options.entry_points", ENTRY_POINT_GROUP, fallback="")
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {name.strip(): target.strip() for name, target in pairs}


def _entry_points() -> dict[str, str]:
    installed = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return installed or _source_checkout_entry_points()


def available_families() -> list[str]:
    """Names of the families :func:`get_family` can load: registered ones, then entry points."""
    return sorted(set(_REGISTERED) | set(_entry_points()))


def family_packages() -> list[str]:
    """Top-level packages of the available families (e.g. for their loggers), without importing
    them: the module of each entry point, and of each family added by :func:`register_family`."""
    names = {target.partition(":")[0].strip().split(".")[0] for target in _entry_points().values()}
    names |= {str(getattr(f.build, "__module__", None) or "").split(".")[0] for f in _REGISTERED.values()}
    return sorted(n for n in names if n)


def get_family(name: str) -> ModelFamily:
    """The model family called ``name``: one added by :func:`register_family`, else the
    ``covid_cxr.models`` entry point (or, in a source checkout that was not installed, the same
    entry point read from ``setup.cfg``). KeyError lists the known names."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    targets = _entry_points()
    if name not in targets:
        raise CxrLookupError(f"unknown model family {name!r}; registered families: {available_families()}")
    module, _, attr = targets[name].partition(":")
    try:
        family = getattr(import_module(module.strip()), attr.strip())
    except (ImportError, AttributeError) as exc:
        raise CxrLookupError(f"model family {name!r} could not be loaded from {targets[name]}: {exc}") from exc
    if not isinstance(family, ModelFamily):
        raise TypeError(f"entry point {name!r} gave {type(family).__name__}, expected cxr_core.family.ModelFamily")
    return family


def iter_families() -> Iterator[ModelFamily]:
    """Every available family, loaded, in name order."""
    for name in available_families():
        yield get_family(name)
