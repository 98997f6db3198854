"""Experiment configuration: typed sections loaded from YAML on top of a paper preset.

An experiment YAML names a preset (``preset: coronet/authors_code``) and overrides some of its
fields; :func:`load_config` merges the two, checks every value and returns a frozen
:class:`ExperimentConfig`. :func:`config_to_dict` gives the resolved values back as plain data, which
every run writes beside its results.

One schema: each section is a dataclass whose field annotations say what a value may be
(:mod:`cxr_core.config.schema`): ``Literal[...]`` for a closed set of values, ``PositiveInt``,
``Fraction`` and other ``Annotated`` ranges, nested sections. Declaring a field is all it takes to have
it checked at load, before any image is read; an error names the file (or ``--set``), the key, the
value and the allowed values, e.g. ``x.yaml: preprocess.resize_method: 'cubic' is not one of nearest,
bilinear, area, shorter_side_center_crop``. A family's own ``extra.<family>`` section is checked against
its :attr:`~cxr_core.family.ModelFamily.extra_schema` by the same machinery, and the preset's
deviation notes are recomputed for the values in force (:mod:`cxr_core.config.notes`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping


from cxr_core.config.choices import (
    DATA_FORMATS, AugmentPlacement, BnMovingVariance, FillMode, Loss, MixedPrecision, OnBadFile, Png16Mode,
    PreResizeMethod, ResizeMethod, Scaling, StepsMode, Strategy, Trainable, ValidationMode,
)
from cxr_core.config.callbacks import EarlyStoppingKeywords, Monitor, ReduceLROnPlateauKeywords, check_monitored_logs
from cxr_core.config.notes import deviation_notes, dotted_keys
from cxr_core.config.schema import (
    ConfigError, Fraction, Keywords, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, Range, build, check,
)
from cxr_core.config.param_counts import ParamCountSpec
from cxr_core.config.option_keys import check_option_keys
from cxr_core.config.yaml_text import load_yaml_text, override_value

# Every field's annotation is its schema (cxr_core.config.schema): a Literal lists the allowed values,
# Annotated[..., Range(...)] a numeric range; load_config checks both before any image is read.


@dataclass(frozen=True)
class DataConfig:
    """Where the samples come from and how they are filtered.

    ``source`` is a class-per-folder directory, a CSV manifest or a COVIDx split file;
    ``test_source`` is a fixed test split (``protocol.kind: fixed_split``). ``label_map`` renames
    labels (e.g. 4 classes to 3) before ``class_names`` is applied. ``undersample`` is ``null``,
    ``minority`` or per-class counts (CoroNet Table I [S4]).
    """

    source: str | None = None
    test_source: str | None = None
    # The validation data of a fixed split (protocol.validation: validation_source; --val-data), e.g. the
    # official COVID-CT `valid` list [CVR-P3]; read like data.source, never undersampled.
    validation_source: str | None = None
    format: str = "auto"  # DATA_FORMATS (cxr_core.config.choices) or a family's reader, checked at load
    class_names: tuple[str, ...] | None = None
    image_dir: str | None = None
    test_image_dir: str | None = None
    drop_duplicates: Literal[False, True, "keep"] = False  # keep: every repeated row (COVIDx split files)
    on_bad_file: OnBadFile = "raise"
    # The manifest column holding the labels when it has both 'label' and 'class' (null: whichever exists).
    label_column: str | None = None
    verify_images: bool = True
    label_map: Mapping[str, str | None] | None = None
    undersample: Literal["minority"] | PositiveInt | Mapping[str, NonNegInt] | None = None


@dataclass(frozen=True)
class PreprocessConfig:
    """Resize and scaling (see :mod:`cxr_core.data.decode.images`)."""

    image_size: tuple[PositiveInt, PositiveInt] = (150, 150)
    resize_method: ResizeMethod = "nearest"
    scaling: Scaling = "rescale01"
    cache: bool | str = False  # false, true (memory) or a file path prefix
    # 16-bit PNGs to 8 bits (cxr_core.data.decode.images): scale257 round(v/257) (default; PIL/Keras would clip
    # at 255, see the module), sbit: by the file's significant bits (PNG sBIT chunk, else its maximum's
    # bit length: 12-bit data -> v*255/4095), minmax: the file's own min..max to 0..255.
    png16: Png16Mode = "scale257"
    # DICOM to 8 bits (cxr_core.data.decode.dicom): bits_stored (default), minmax, voi_lut (window / VOI LUT applied)
    dicom: Literal["bits_stored", "minmax", "voi_lut"] = "bits_stored"
    # A first resize before image_size: [height, width, method] (method as PIL's filter; CoroNet's data
    # set was resized to 224x224 before Keras' nearest resize to 150 [S4] [CN]); null = none.
    pre_resize: tuple[PositiveInt, PositiveInt, PreResizeMethod] | None = None
    # JPEGs re-encoded as PIL's Image.open(f).save(f) does, at this quality (75: PIL's default; decode.resave)
    jpeg_resave_quality: PositiveInt | None = None


@dataclass(frozen=True)
class AugmentConfig:
    """Keras 2 ``ImageDataGenerator`` parameters (see :mod:`cxr_core.data.augment.keras2`)."""

    enabled: bool = False
    on_validation: bool = False
    rotation_range: NonNegFloat = 0.0
    width_shift_range: NonNegFloat = 0.0
    height_shift_range: NonNegFloat = 0.0
    shear_range: NonNegFloat = 0.0
    zoom_range: NonNegFloat | tuple[NonNegFloat, NonNegFloat] = 0.0
    channel_shift_range: NonNegFloat = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: FillMode = "constant"
    cval: float = 0.0
    # host: tf.data augments and scales on the CPU; device: the CPU serves uint8 images and the
    # training step augments and scales them on the accelerator (cxr_core.data.augment.device).
    placement: AugmentPlacement = "host"


@dataclass(frozen=True)
class ModelConfig:
    """Which model family to build and with what; ``options`` go to the family's builder.

    ``family`` has no default: the preset names it (``preset: <family>/<name>``), or the config sets
    ``model.family`` to a registered family (:func:`cxr_core.family.available_families`)."""

    family: str | None = None
    num_classes: Annotated[int, Range(ge=2)] | None = None
    backbone_weights: str | None = None
    init_from: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    learning_rate: PositiveFloat = 1e-4
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, callbacks and the GPU switches (mixed precision, XLA, tf.distribute)."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: Loss = "categorical_crossentropy"
    batch_size: PositiveInt = 10
    epochs: PositiveInt = 80
    steps_per_epoch: PositiveInt | None = None
    validation_steps: PositiveInt | None = None
    # How steps per epoch and the sample order are taken (cxr_core.data.keras2_iteration): full_pass (ours),
    # keras2_floor_wraparound (Keras 2.3.1 fit_generator [CVR-T]), tf_keras_floor_restart (tf.keras 2.x [CN]).
    steps_mode: StepsMode = "full_pass"
    # BatchNorm moving-variance update (cxr_core.training.batchnorm): Keras 3, unbiased, or Keras 2.3.1 on TF 2 / 1
    bn_moving_variance: BnMovingVariance = "biased"
    # Which layers train (cxr_core.training.trainable): all (end to end) or head (nested backbone models frozen).
    trainable: Trainable = "all"
    class_weight: Literal["round_max_over_count"] | Mapping[str, NonNegFloat] | None = None
    # keras.callbacks.EarlyStopping / ReduceLROnPlateau keywords, null: none (cxr_core.config.callbacks)
    early_stopping: Annotated[Mapping[str, Any], Keywords(EarlyStoppingKeywords)] | None = None
    reduce_lr: Annotated[Mapping[str, Any], Keywords(ReduceLROnPlateauKeywords)] | None = None
    checkpoint: Literal["last", "best"] = "last"
    checkpoint_monitor: Monitor = "val_accuracy"
    # mixed_float16_on_gpu: mixed_float16 (dynamic loss scaling) when a GPU is visible, else float32
    mixed_precision: MixedPrecision | None = None
    jit_compile: bool = False
    # Folds (and training phases) of one run train one compiled model, reset to each fold's fresh build
    # (its seed, ImageNet backbone, init_from; optimizer and metrics reset): the training step is traced
    # (XLA-compiled) once per run, not per fold. Changes no result (cxr_core.training.model_reuse).
    reuse_model_across_folds: bool = True
    strategy: Strategy = "default"
    deterministic: bool = True
    seed: NonNegInt = 7
    verbose: Literal[0, 1, 2] = 2
    # Scalars per epoch (loss, metrics, learning rate) under <fold or phase>/tensorboard/ (train/ and
    # validation/ event files): `tensorboard --logdir RUN_DIR`. Logging only: a run may resume with another value.
    tensorboard: bool = True
    # MLflow tracking URI (e.g. sqlite:///mlflow.db); null = none. Needs the `mlflow` extra (cxr_core.runs.mlflow_log).
    mlflow_uri: str | None = None


@dataclass(frozen=True)
class ProtocolConfig:
    """How samples are split: k-fold, one holdout split, or a fixed train/test split."""

    kind: Literal["kfold", "holdout", "fixed_split"] = "kfold"
    n_folds: PositiveInt = 4
    split_style: Literal["stratified", "authors_contiguous", "keras_validation_split"] = "stratified"
    group_by_patient: bool = True
    # With group_by_patient: rows whose patient_id is blank stop the run (error, naming the count and the first
    # rows), or each becomes its own group with a WARNING naming the count (own_group).
    blank_patient_ids: Literal["error", "own_group"] = "error"
    # test_fold: validate on the test rows; inner_split: a part of the training rows; validation_source:
    # the separate data.validation_source (fixed_split only); none: no validation data.
    validation: ValidationMode = "test_fold"
    inner_val_fraction: Fraction = 0.1
    holdout_fraction: Fraction = 0.2
    seed: NonNegInt = 42
    splits_from: str | None = None  # a run directory (or its splits/ folder) whose folds to reuse
    # authors_contiguous: file-name regex -> sub-class folded on its own, then joined (splits.fold_strata)
    fold_strata: Mapping[str, str] | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """Bootstrap confidence intervals and the batch size for prediction."""

    n_bootstrap: NonNegInt = 1000
    seed: NonNegInt = 0
    batch_size: PositiveInt = 32


@dataclass(frozen=True)
class PublishedConfig:
    """Which published table a run is compared with (keys of :mod:`cxr_core.report.published`)."""

    table: str | None = None
    source: str | None = None
    classwise_table: str | None = None


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment. ``deviations`` lists how the preset departs from the paper."""

    name: str = "experiment"
    preset: str | None = None
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    published: PublishedConfig = field(default_factory=PublishedConfig)
    deviations: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


SECTIONS = tuple(f.name for f in dataclasses.fields(ExperimentConfig))


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``override`` on top of ``base``; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key not in _OPAQUE_KEYS:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Mappings whose content is data, not further config sections: replaced, not merged.
_OPAQUE_KEYS = {"label_map", "undersample", "class_weight", "fold_strata"}


@dataclass(frozen=True)
class ExtraConfig:
    """The core's keys of the free ``extra`` section; a family with an ``extra_schema`` adds
    ``extra.<family>`` (e.g. ``extra.coronanet``), checked against that schema at load.

    ``expected_params``: the published parameter counts of the model the config describes,
    ``[total, trainable, non_trainable]`` (or a mapping of those names, or the total alone), checked
    before training (:mod:`cxr_core.config.param_counts`).
    """

    expected_params: ParamCountSpec | None = None
    # Config keys a run of this experiment needs set (e.g. model.init_from for a fine-tuning experiment);
    # a run stops before reading images, naming the CLI option (cxr_core.runs.inputs).
    required: tuple[str, ...] = ()


def split_preset(preset: str) -> tuple[str, str]:
    """``"coronet/authors_code"`` -> ``("coronet", "authors_code")``."""
    if not isinstance(preset, str) or preset.count("/") != 1:
        raise ConfigError(f"preset must look like 'family/name' (e.g. 'my_family/paper'), found {preset!r}")
    family, name = preset.split("/")
    return family, name


def preset_values(preset: str) -> tuple[dict, tuple[str, ...]]:
    """The preset's nested values and its deviation notes (``"field: note"`` lines)."""
    from cxr_core.family import get_family

    family_name, name = split_preset(preset)
    family = get_family(family_name)
    chosen = family.preset(name)
    values = copy.deepcopy(dict(chosen.values))
    values.setdefault("model", {})
    values["model"] = dict(values["model"], family=family_name)
    notes = tuple(f"{key}: {note}" for key, note in chosen.notes.items())
    return values, notes


def resolve_config(raw: Mapping, *, origin: str = "<config>", overrides: Mapping | None = None,
                   overrides_origin: str = "--set") -> ExperimentConfig:
    """Merge ``raw`` (and ``overrides``) on top of the preset it names and check every value.

    A bad value raises :class:`ConfigError` naming where it came from: ``overrides_origin`` for a
    key of ``overrides``, ``origin`` for one of ``raw``, else the preset. The preset's deviation notes
    are recomputed for the merged values (:func:`deviation_notes`) unless ``raw`` lists its own.
    """
    raw = dict(raw or {})
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level key {unknown[0]!r}; allowed: {list(SECTIONS)}")
    layers = [(overrides_origin, overrides or {}), (origin, raw)]
    # The user's values first, before the preset's family is imported (a typo fails in about a second).
    _checked(deep_merge(raw, overrides or {}), layers, origin, family_fields=False)
    preset: dict = {}
    notes: tuple[str, ...] = ()
    name = (overrides or {}).get("preset") or raw.get("preset")  # --set preset=family/name wins over the YAML's
    if name:
        preset, notes = preset_values(name)
    merged = deep_merge(deep_merge(preset, raw), overrides or {})
    if notes and "deviations" not in raw:
        merged["deviations"] = deviation_notes(notes, preset, merged, name)
    return _checked(merged, [*layers, (f"preset {name}", preset)], origin)


def _checked(merged: Mapping, layers: list[tuple[str, Mapping]], origin: str, *,
             family_fields: bool = True) -> ExperimentConfig:
    """``merged`` as a checked :class:`ExperimentConfig`; an error names the layer the key came from.
    ``family_fields``: also check the fields that depend on the model family (:func:`_check_family_fields`)."""
    try:
        cfg = build(ExperimentConfig, merged, "", origin)
        check_monitored_logs(cfg.train, cfg.protocol.validation, origin)
        if family_fields:
            _check_family_fields(cfg, origin)
        return cfg
    except ConfigError as exc:
        if not exc.key:
            raise
        path = exc.key.split("[")[0].split(".")
        prefixes = {".".join(path[:i]) for i in range(1, len(path) + 1)}
        label = next((name for name, layer in layers if prefixes & _dotted_keys(layer)), origin)
        raise ConfigError(f"{label}: {exc.detail}", key=exc.key, detail=exc.detail) from None


def _check_family_fields(cfg: ExperimentConfig, origin: str) -> None:
    """The fields whose allowed values depend on the installed families: ``model.family``,
    ``data.format`` (a family's readers) and ``extra`` (the family's ``extra_schema``)."""
    from cxr_core.family import available_families, get_family

    families = available_families()
    check(Literal[tuple(families)], cfg.model.family, "model.family", origin)
    core_extra = [f.name for f in dataclasses.fields(ExtraConfig)]
    family_keys = [k for k in cfg.extra if k not in core_extra]
    family = get_family(cfg.model.family) if family_keys or cfg.data.format not in DATA_FORMATS else None
    if cfg.data.format not in DATA_FORMATS:
        allowed = (*DATA_FORMATS, *family.data.readers)
        check(Literal[allowed], cfg.data.format, "data.format", origin)
    build(ExtraConfig, {k: v for k, v in cfg.extra.items() if k in core_extra}, "extra", origin)
    check_option_keys(cfg, origin)  # model.options / train.optimizer.options against the code's parameters
    schema = getattr(family, "extra_schema", None)
    for key in family_keys:
        if key != cfg.model.family or schema is None:
            allowed = core_extra + ([cfg.model.family] if schema is not None else [])
            detail = f"unknown key extra.{key} for model family {cfg.model.family}; allowed keys in extra: {allowed}"
            raise ConfigError(f"{origin}: {detail}", key=f"extra.{key}", detail=detail)
        build(schema, cfg.extra[key], f"extra.{key}", origin)


def _dotted_keys(tree: Mapping) -> set[str]:
    return dotted_keys(tree, opaque=_OPAQUE_KEYS)


def load_config(path: str | Path, *, overrides: Mapping | None = None,
                overrides_origin: str = "--set") -> ExperimentConfig:
    """Read an experiment YAML and resolve it (see :func:`resolve_config`); every value is checked
    here, before any image is read, and a bad one raises :class:`ConfigError` naming the file (or
    ``overrides_origin``), the key, the value and the allowed values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment config not found: {path}")
    raw = load_yaml_text(path.read_text(encoding="utf-8"), str(path)) or {}  # a key given twice: error
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping, found {type(raw).__name__}")
    if isinstance(raw.get("config"), Mapping):  # config.yaml of a run (cxr_core.runs.directory)
        raise ConfigError(f"{path}: this is a run directory's config.yaml, not an experiment YAML; to use the "
                          f"run's model give --run {path.parent} (and --fold K for a k-fold run)")
    return resolve_config(raw, origin=str(path), overrides=overrides, overrides_origin=overrides_origin)


def parse_override(text: str) -> dict:
    """``"train.epochs=3"`` -> ``{"train": {"epochs": 3}}`` (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {text!r}: empty key component")
    nested: dict = {parts[-1]: override_value(value, key.strip())}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def config_to_dict(cfg: Any) -> Any:
    """Plain data (dicts, lists, scalars) for YAML output."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    return cfg


def replace(cfg: ExperimentConfig, overrides: Mapping, *, origin: str = "<override>") -> ExperimentConfig:
    """A copy of ``cfg`` with nested ``overrides`` applied and checked; the preset's deviation notes
    are recomputed for the new values (unless ``overrides`` sets ``deviations``)."""
    merged = deep_merge(config_to_dict(cfg), overrides)
    merged.pop("preset", None)
    if cfg.preset and "deviations" not in overrides:
        preset, notes = preset_values(cfg.preset)
        if notes:  # compared with the preset as the schema fills it, as ``merged`` is filled
            filled = config_to_dict(_checked(copy.deepcopy(preset), [(f"preset {cfg.preset}", preset)], "<config>"))
            merged["deviations"] = deviation_notes(notes, filled, merged, cfg.preset)
    out = _checked(merged, [(origin, overrides)], "<config>")
    return dataclasses.replace(out, preset=cfg.preset)


def smoke_overrides(cfg: ExperimentConfig) -> dict:
    """Settings for a CPU smoke run: tiny input, 1 epoch, a few steps, few bootstrap resamples.

    The architecture, the protocol's fold structure and every preprocessing choice other than the
    input size stay as configured, so a smoke run exercises the same code paths as a full run.
    Backbones start from random weights (``model.backbone_weights: null``): a smoke run never
    downloads ImageNet weights.
    The input side and any further cuts come from the family
    (:attr:`cxr_core.family.ModelPart.smoke_image_size`, ``TrainingPart.smoke_overrides``): a family whose
    model only works at its published input (CORONA-Net's 224x224 [CR]) keeps it and cuts the
    steps of its own phases instead.
    """
    from cxr_core.family import get_family

    family = get_family(cfg.model.family)
    over: dict = {
        "preprocess": {"cache": False},
        "train": {
            "epochs": 1,
            "steps_per_epoch": 2,
            "validation_steps": 1,
            "batch_size": 4,
            "verbose": 2,
        },
        "evaluation": {"n_bootstrap": 50, "batch_size": 16},
        "model": {"backbone_weights": None},
    }
    if family.model.smoke_image_size is not None:
        over["preprocess"]["image_size"] = [family.model.smoke_image_size] * 2
    return deep_merge(over, family.training.smoke_overrides)
