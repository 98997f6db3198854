"""Experiment configuration: typed sections loaded from YAML on top of a paper preset.

An experiment YAML names a preset (``preset: coronet/authors_code``) and overrides some of its
fields; :func:`load_config` merges the two, rejects unknown keys (naming the key, where it was found
and which keys exist) and returns a frozen :class:`ExperimentConfig`. :func:`config_to_dict` gives
the resolved values back as plain data, which every run writes beside its results.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """An experiment config is malformed; the message names the file and the key."""


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
    format: str = "auto"
    class_names: tuple[str, ...] | None = None
    image_dir: str | None = None
    test_image_dir: str | None = None
    drop_duplicates: Any = False  # false | true | keep (COVIDx split files)
    on_bad_file: str = "raise"
    verify_images: bool = True
    label_map: Mapping[str, str] | None = None
    undersample: Any = None


@dataclass(frozen=True)
class PreprocessConfig:
    """Resize and scaling (see :mod:`cxr_core.data.images`)."""

    image_size: tuple[int, int] = (150, 150)
    resize_method: str = "nearest"
    scaling: str = "rescale01"
    cache: Any = False


@dataclass(frozen=True)
class AugmentConfig:
    """Keras 2 ``ImageDataGenerator`` parameters (see :mod:`cxr_core.data.augment`)."""

    enabled: bool = False
    on_validation: bool = False
    rotation_range: float = 0.0
    width_shift_range: float = 0.0
    height_shift_range: float = 0.0
    shear_range: float = 0.0
    zoom_range: Any = 0.0
    channel_shift_range: float = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: str = "constant"
    cval: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    """Which model family to build and with what; ``options`` go to the family's builder."""

    family: str = "coronet"
    num_classes: int | None = None
    backbone_weights: str | None = None
    init_from: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    learning_rate: float = 1e-4
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, callbacks and the GPU switches (mixed precision, XLA, tf.distribute)."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: str = "categorical_crossentropy"
    batch_size: int = 10
    epochs: int = 80
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    class_weight: Any = None
    early_stopping: Mapping[str, Any] | None = None
    reduce_lr: Mapping[str, Any] | None = None
    checkpoint: str = "last"
    checkpoint_monitor: str = "val_accuracy"
    mixed_precision: str | None = None
    jit_compile: bool = False
    strategy: str = "default"
    deterministic: bool = True
    seed: int = 7
    verbose: int = 2


@dataclass(frozen=True)
class ProtocolConfig:
    """How samples are split: k-fold, one holdout split, or a fixed train/test split."""

    kind: str = "kfold"
    n_folds: int = 4
    split_style: str = "stratified"
    group_by_patient: bool = True
    validation: str = "test_fold"
    inner_val_fraction: float = 0.1
    holdout_fraction: float = 0.2
    seed: int = 42
    splits_from: str | None = None  # a run directory (or its splits/ folder) whose folds to reuse


@dataclass(frozen=True)
class EvaluationConfig:
    """Bootstrap confidence intervals and the batch size for prediction."""

    n_bootstrap: int = 1000
    seed: int = 0
    batch_size: int = 32


@dataclass(frozen=True)
class PublishedConfig:
    """Which published table a run is compared with (keys of :mod:`cxr_core.published`)."""

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
_OPAQUE_KEYS = {"label_map", "undersample", "class_weight"}


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _build(cls: type, raw: Any, where: str, origin: str) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: {where or 'the config'} must be a mapping, found {type(raw).__name__}: {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key {where + '.' if where else ''}{unknown[0]}; "
            f"allowed keys{' in ' + where if where else ''}: {names}"
        )
    kwargs = {}
    for name in names:
        if name not in raw:
            continue
        value = raw[name]
        tp = hints[name]
        key = f"{where}.{name}" if where else name
        if _is_dataclass_type(tp):
            kwargs[name] = _build(tp, value, key, origin)
        else:
            kwargs[name] = _coerce(tp, value, key, origin)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str, origin: str) -> Any:
    """Light type checking: numbers, booleans, strings and tuples; the message names the key."""
    args = typing.get_args(tp)
    optional = type(None) in args
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{origin}: {key} may not be null")
    base = [a for a in args if a is not type(None)] if args and typing.get_origin(tp) in (typing.Union, types.UnionType) else [tp]
    if len(base) == 1:
        tp = base[0]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} must be true or false, found {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {key} must be an integer, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{origin}: {key} must be a number, found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {key} must be a string, found {value!r}")
        return value
    if typing.get_origin(tp) in (Mapping, dict) or tp in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: {key} must be a mapping (key: value), found {value!r}")
        return value
    if typing.get_origin(tp) is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{origin}: {key} must be a list, found {value!r}")
        return tuple(value)
    return value


def split_preset(preset: str) -> tuple[str, str]:
    """``"coronet/authors_code"`` -> ``("coronet", "authors_code")``."""
    if not isinstance(preset, str) or preset.count("/") != 1:
        raise ConfigError(f"preset must look like 'family/name' (e.g. 'coronet/authors_code'), found {preset!r}")
    family, name = preset.split("/")
    return family, name


def preset_values(preset: str) -> tuple[dict, tuple[str, ...]]:
    """The preset's nested values and its deviation notes (``"field: note"`` lines)."""
    from cxr_core.registry import get_family

    family_name, name = split_preset(preset)
    family = get_family(family_name)
    chosen = family.preset(name)
    values = copy.deepcopy(dict(chosen.values))
    values.setdefault("model", {})
    values["model"] = dict(values["model"], family=family_name)
    notes = tuple(f"{key}: {note}" for key, note in chosen.notes.items())
    return values, notes


def resolve_config(raw: Mapping, *, origin: str = "<config>", overrides: Mapping | None = None) -> ExperimentConfig:
    """Merge ``raw`` (and ``overrides``) on top of the preset it names and type-check the result."""
    raw = dict(raw or {})
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{origin}: unknown top-level key {unknown[0]!r}; allowed: {list(SECTIONS)}")
    merged: dict = {}
    notes: tuple[str, ...] = ()
    if raw.get("preset"):
        merged, notes = preset_values(raw["preset"])
    merged = deep_merge(merged, raw)
    if overrides:
        merged = deep_merge(merged, overrides)
    if notes and "deviations" not in raw:
        merged["deviations"] = _notes_after_overrides(notes, merged, [raw, overrides or {}], raw["preset"])
    return _build(ExperimentConfig, merged, "", origin)


def _dotted_keys(tree: Mapping, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        keys.add(dotted)
        if isinstance(value, Mapping) and key not in _OPAQUE_KEYS:
            keys |= _dotted_keys(value, dotted + ".")
    return keys


def _lookup(tree: Mapping, dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _notes_after_overrides(notes, merged: Mapping, layers: list[Mapping], preset: str) -> list[str]:
    """The preset's notes, with those on fields the experiment changed marked as overridden."""
    changed = set().union(*(_dotted_keys(layer) for layer in layers))
    out = []
    for line in notes:
        key, _, note = line.partition(": ")
        if key in changed:
            out.append(f"{key}: OVERRIDDEN by this experiment to {_lookup(merged, key)!r} (preset {preset}: {note})")
        else:
            out.append(line)
    return out


def load_config(path: str | Path, *, overrides: Mapping | None = None) -> ExperimentConfig:
    """Read an experiment YAML and resolve it (see :func:`resolve_config`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping, found {type(raw).__name__}")
    return resolve_config(raw, origin=str(path), overrides=overrides)


def parse_override(text: str) -> dict:
    """``"train.epochs=3"`` -> ``{"train": {"epochs": 3}}`` (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {text!r}: empty key component")
    nested: dict = {parts[-1]: yaml.safe_load(value)}
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


def replace(cfg: ExperimentConfig, overrides: Mapping) -> ExperimentConfig:
    """A copy of ``cfg`` with nested ``overrides`` applied and type-checked."""
    merged = deep_merge(config_to_dict(cfg), overrides)
    merged.pop("preset", None)
    out = _build(ExperimentConfig, merged, "", "<override>")
    return dataclasses.replace(out, preset=cfg.preset)


def smoke_overrides(cfg: ExperimentConfig) -> dict:
    """Settings for a CPU smoke run: tiny input, 1 epoch, a few steps, few bootstrap resamples.

    The architecture, the protocol's fold structure and every preprocessing choice other than the
    input size stay as configured, so a smoke run exercises the same code paths as a full run.
    Backbones start from random weights (``model.backbone_weights: null``): a smoke run never
    downloads ImageNet weights.
    CORONA-Net keeps its 224x224 input (its Linear(4900) needs a 7x7 bottleneck and its decoder
    always reconstructs 224x224 [CR]); only its steps are cut, in both of its phases.
    """
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
    if cfg.model.family == "coronanet":
        over["extra"] = {"coronanet": {"reinit": {"epochs": 1}}}
    else:
        size = 71 if cfg.model.family == "coronet" else 96
        over["preprocess"]["image_size"] = [size, size]
    return over
