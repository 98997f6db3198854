"""The model registry: how ``cxr_core`` finds paper packages without importing them.

Each paper package exposes a :class:`ModelFamily` and declares it in ``setup.cfg`` under the
entry-point group ``covid_cxr.models`` (``<name> = <package>.family:FAMILY``). The CLI and the protocol
look families up by name with :func:`get_family`; :func:`register_family` adds one at run time (a
test's tiny family, a notebook's experiment) and :func:`unregister_family` removes it again.

Everything a paper knows and the core needs travels in the :class:`ModelFamily` record, grouped in
five typed parts (:class:`ModelPart`, :class:`WeightsPart`, :class:`TrainingPart`, :class:`DataPart`,
:class:`PublishedPart`), so the core names no paper. The entry point names ``<package>.family:FAMILY``,
a light module whose builders and weight hooks are :class:`Lazy` references: the registry, the
published tables, presets and recipes load without TensorFlow.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, Sequence

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


class BuildModel(Protocol):
    """A family's architecture builder (:attr:`ModelPart.build`)."""

    def __call__(self, *, num_classes: int, input_shape: tuple[int, int, int], backbone_weights: Any = None,
                 **options: Any) -> Any:
        """A fresh ``keras.Model``: input ``[N, *input_shape]`` float32, output ``[N, num_classes]``
        (probabilities or logits, :attr:`ModelPart.output_kind`; a multi-output model gives the classes
        first). ``backbone_weights``: pretrained weights of the backbone (``None``: random); ``options``:
        the config's ``model.options``."""


class ModelFactory(Protocol):
    """The experiment's model, as :func:`cxr_core.models.build.model_builder` hands it to a fit."""

    def __call__(self, options: Mapping[str, Any] | None = None, bare: bool = False) -> Any:
        """A fresh model of the config (family, input size, class count). ``options`` replace entries
        of ``model.options`` (a variant of the config's model, e.g. CORONA-Net's phase-1 model with its
        decoder); ``bare``: no pretrained backbone and no ``model.init_from`` (a container for weights
        about to be loaded from a file)."""


class FitSplit(Protocol):
    """A family's own training of one split (:attr:`TrainingPart.fit`; several phases)."""

    def __call__(self, cfg: Any, build: ModelFactory, make_train_data: Callable[[int], Any],
                 make_val_data: Callable[[int], Any] | None, out_dir: Any, *,
                 class_weight: Mapping[int, float] | None = None, strategy: Any = None) -> Any:
        """Train and return a :class:`cxr_core.training.fit.FitResult` whose ``weights_path`` loads into
        ``build(bare=True)``. ``make_*_data(first_epoch)`` give ``tf.data`` datasets of ``(x, one-hot y)``."""


class LoadWeights(Protocol):
    """``load(model, path) -> model``: a weight file into a built model (:class:`WeightsPart`)."""

    def __call__(self, model: Any, path: str) -> Any: ...


@dataclass(frozen=True)
class Lazy:
    """A function named by ``"module:attribute"``, imported on the first call, so that a family's
    description (tables, presets, recipes) loads without TensorFlow; ``resolve()`` gives the function."""

    target: str

    def __post_init__(self):
        module, sep, attr = self.target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"lazy reference must look like 'package.module:function', found {self.target!r}")

    @property
    def module(self) -> str:
        """The module that defines the function (not imported)."""
        return self.target.partition(":")[0]

    def resolve(self) -> Callable[..., Any]:
        """The function itself (imports its module)."""
        module, _, attr = self.target.partition(":")
        return getattr(import_module(module), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module-level ``__getattr__`` (PEP 562): public name -> the module that defines it
    (``homes``), imported on first use, so that ``import <package>`` imports no Keras or TensorFlow.
    A paper package's ``__init__`` sets ``__getattr__ = lazy_exports(__name__, _HOMES)``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(home), name)

    return __getattr__


def lazy(target: str) -> Lazy:
    """``lazy("coronet_tf.model:build_coronet")``: see :class:`Lazy`."""
    return Lazy(target)


def resolved(function: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``function`` itself: a :class:`Lazy` reference imported, anything else unchanged."""
    return function.resolve() if isinstance(function, Lazy) else function


@dataclass(frozen=True)
class ModelPart:
    """The network: how to build it and read its outputs."""

    build: BuildModel
    """The architecture builder (usually a :class:`Lazy` reference: its module imports Keras)."""
    output_kind: Literal["probabilities", "logits"] = "probabilities"
    """``probabilities`` (softmax output) or ``logits``."""
    last_conv_layer: str | None = None
    """Grad-CAM's default layer."""
    explain_branches: bool | Mapping[str, str] = False
    """Grad-CAM draws one panel per branch (plus the averaged output) when the model's output is an
    ``Average`` of pooled branches (:func:`cxr_core.explain.gradcam.average_branches`); else one panel. A
    mapping (tapped layer name -> branch title, e.g. ``"ResNet50 stage 3"``) also names the panels;
    the feature map's size is added to the title."""
    smoke_image_size: int | None = 96
    """Square input side of a smoke run; ``None`` keeps the configured size (a model that only
    works at its published input)."""

    def import_code(self) -> None:
        """Import the module of :attr:`build`, which registers the model's Keras custom objects
        (needed before ``keras.models.load_model`` of a saved model of this family)."""
        resolved(self.build)


@dataclass(frozen=True)
class WeightsPart:
    """Weight files: the authors' released files, another model's weights, other frameworks'."""

    load: LoadWeights | None = None
    """``load(model, path)``: a file other than our Keras 3 weights (e.g. the authors' Keras-2 HDF5) into a
    built model; ``<paper>/weights.py:load_weights`` in every paper package."""
    init: LoadWeights | None = None
    """``init(model, path)`` for ``model.init_from``: start from another model's weights (default
    :func:`cxr_core.models.build.init_from_weights`)."""
    recognise: Callable[[Any], bool] | None = None
    """``recognise(summary) -> bool``: whether a weight file (a
    :class:`cxr_core.weights.files.WeightFileSummary`, read without unpickling) looks like this family's,
    so loading the wrong family's file fails in one line naming the family it fits."""
    convert: Callable[[str, str], Any] | None = None
    """``convert(src, dst)`` for ``covid-cxr convert``: the authors' weights of another framework."""


@dataclass(frozen=True)
class TrainingPart:
    """Training beyond the core's :func:`cxr_core.training.fit.fit_split`."""

    fit: FitSplit | None = None
    """Replaces ``fit_split`` for families with their own schedule (several phases): see :class:`FitSplit`."""
    optimizers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Optimizers the family adds as ``train.optimizer.name`` values: name -> ``factory(learning_rate=...,
    **options)`` returning a Keras optimizer (:func:`cxr_core.training.fit.make_optimizer`)."""
    smoke_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Extra config overrides of a smoke run (e.g. cutting the epochs of the family's own phases),
    deep-merged over :func:`cxr_core.config.experiment.smoke_overrides`."""


@dataclass(frozen=True)
class DataPart:
    """The paper's data: readers it adds and recipes assembling its published data sets."""

    readers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Dataset readers the family adds as ``data.format`` values: name -> ``reader(source, *,
    class_names, image_dir, drop_duplicates, on_error)`` returning a
    :class:`cxr_core.data.tables.sample_table.SampleTable`."""
    recipes: Mapping[str, Any] = field(default_factory=dict)
    """Dataset recipes of the paper (:class:`cxr_core.data.build.assemble.Recipe`), by name."""


@dataclass(frozen=True)
class PublishedPart:
    """The paper's published results and how a report lines ours up with them."""

    tables: Sequence[Any] = ()
    """The paper's published tables (:class:`cxr_core.report.published.PublishedTable` records), in paper
    order; keys look like ``<family>/<table>``."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Key aliases a preset may name: regular expression -> published key. Named groups of the
    expression become the selection handed to the report layout (digits as ``int``), e.g.
    ``{r"^x/abstract_task(?P<task>\\d)$": "x/abstract"}``."""
    report_layouts: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Published key -> metric-per-row comparison ``layout(key, config, folds, pooled, *,
    selection)`` returning ``(frame, heading, notes)`` (see :mod:`cxr_core.report.comparison`)."""
    report_figures: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Published key -> the family's own figures of that comparison, ``figures(key, run_dir, config,
    folds, pooled, *, selection, mark)``: draws PNGs into ``run_dir`` and returns ``(figures, notes)``,
    ``figures`` a list of ``(file name relative to run_dir, one-line caption)`` and ``notes`` lines
    saying what was not drawn and why. ``mark``: a text to stamp on each figure (a run whose numbers
    must not stand beside the published ones), or None for the default of
    :func:`cxr_core.report.figures.save_figure`. The run report links them under the published table
    (:func:`cxr_core.report.markdown.write_run_report`)."""
    class_aliases: Mapping[str, str] = field(default_factory=dict)
    """Label spellings that mean the same class, after :func:`cxr_core.report.comparison.canonical_label`
    normalisation (lower case, letters and digits only): alias -> canonical name, e.g.
    ``{"covid19": "covid"}``. Used to line published rows up with our class names."""


@dataclass(frozen=True)
class ModelFamily:
    """What the shared machinery needs to know about one paper's model, in five parts.

    ``presets``, ``extra_schema`` and ``experiments`` describe its configs; :attr:`model`, :attr:`weights`,
    :attr:`training`, :attr:`data` and :attr:`published` are the parts above. A paper package defines
    it in ``<paper>/family.py`` with :class:`Lazy` references for everything that imports Keras, so
    looking up a table, a preset or a recipe does not import TensorFlow.
    """

    name: str
    model: ModelPart
    presets: Mapping[str, Preset]
    description: str = ""
    extra_schema: Any = None
    """Schema dataclass of the family's ``extra.<family>`` config section, checked when a config is
    loaded (``None``: the family has no own section)."""
    experiments: Mapping[str, Path] = field(default_factory=dict)
    """Experiment YAMLs packaged with the family, by name; ``demo`` is the experiment of
    ``covid-cxr demo`` (:mod:`cxr_core.cli.demo`)."""
    weights: WeightsPart = field(default_factory=WeightsPart)
    training: TrainingPart = field(default_factory=TrainingPart)
    data: DataPart = field(default_factory=DataPart)
    published: PublishedPart = field(default_factory=PublishedPart)

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


def explicitly_registered(name: str) -> ModelFamily | None:
    """The family registered under ``name`` with :func:`register_family` (None when only an entry point,
    or nothing, provides it)."""
    return _REGISTERED.get(name)


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
    names |= {_module_of(f.model.build).split(".")[0] for f in _REGISTERED.values()}
    return sorted(n for n in names if n)


def _module_of(function: Any) -> str:
    return function.module if isinstance(function, Lazy) else str(getattr(function, "__module__", None) or "")


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
