"""Run an experiment's protocol fold by fold: k-fold, one holdout split, or a fixed train/test split.

:func:`run_protocol` turns an :class:`~cxr_core.config.ExperimentConfig` and a data source into a run
directory (DESIGN.md):

    config.yaml          resolved config, package version, git commit, data manifest hash
    samples.csv          the sample table used (after label mapping and undersampling)
    skipped.csv          files left out and why (only when some were)
    splits/fold_k.csv    which sample went where (sample_id, label, patient_id, fold)
    fold_k/              checkpoints/, training_log.csv, predictions.csv, metrics.csv,
                         confusion_matrix.png, confusion_matrix_normalized.png, curves.png
    results.csv, report.md and the pooled confusion matrices, from :mod:`cxr_core.report`

Folds are independent: ``folds=[0, 1]`` on one machine and ``[2, 3]`` on another, into the same
directory or two, and :func:`cxr_core.report.write_run_report` (``covid-cxr report``) merges them.
A fold whose ``predictions.csv`` exists is never redone; an interrupted fold resumes from its last
finished epoch (:func:`cxr_core.training.fit_split`).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import yaml

from cxr_core import __version__
from cxr_core.config import ExperimentConfig, config_to_dict
from cxr_core.io import atomic_write_text

Progress = Callable[[str], None]


class RunDirectoryError(ValueError):
    """A run directory holds results of a different experiment or data."""


# ----------------------------------------------------------------------------------- samples
def load_samples(cfg: ExperimentConfig, source: str | None = None, *, test: bool = False):
    """The experiment's sample table: read, verified, relabelled, restricted to its classes.

    Undersampling (``data.undersample``) is applied by :func:`prepare_samples`, not here, so that a
    fixed test split is never undersampled.
    """
    from cxr_core.data.images import verify_images
    from cxr_core.data.samples import read_samples, remap_labels

    data = cfg.data
    src = source or (data.test_source if test else data.source)
    if not src:
        raise ValueError("data.source is not set: give --data DIR (or data.source in the experiment YAML)")
    image_dir = data.test_image_dir if test else data.image_dir
    read_classes = None if data.label_map else data.class_names
    table = read_samples(
        src,
        format=data.format,
        class_names=read_classes,
        image_dir=image_dir,
        drop_duplicates=data.drop_duplicates,
        on_error=data.on_bad_file,
    )
    if data.label_map:
        targets = data.class_names or tuple(dict.fromkeys(data.label_map.values()))
        table = remap_labels(table, dict(data.label_map), tuple(targets))
    if data.verify_images:
        table = verify_images(table, on_error=data.on_bad_file)
    return table


def prepare_samples(cfg: ExperimentConfig, table, *, smoke: bool = False, progress: Progress = print):
    """Apply ``data.undersample`` (CoroNet Table I counts [S4], or the minority class), seeded.

    In smoke mode, per-class counts above what a small dataset holds are capped (and said so), so that
    a full experiment YAML runs on ../shared/data's few images.
    """
    from cxr_core.data.splits import undersample

    if cfg.data.undersample is None:
        return table
    spec = cfg.data.undersample
    if isinstance(spec, dict):
        spec = {str(k): int(v) for k, v in spec.items()}
        if smoke:
            available = table.class_counts()
            capped = {k: min(v, int(available.get(k, 0))) for k, v in spec.items()}
            if capped != spec:
                progress(f"smoke: undersampling counts {spec} capped at the images available: {capped}")
            spec = capped
    return undersample(table, spec, seed=cfg.protocol.seed)


def manifest_hash(table) -> str:
    """SHA-256 over the sorted (sample_id, label) pairs: identifies the data a run used."""
    digest = hashlib.sha256()
    for sid, label in sorted(zip(table.frame["sample_id"], table.frame["label"])):
        digest.update(f"{sid}\t{label}\n".encode())
    return digest.hexdigest()


def git_commit() -> str | None:
    """The commit of the package's source checkout, if it is one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# ----------------------------------------------------------------------------------- splits
@dataclass
class Split:
    """One fold: positions of the training, validation and test rows in the sample table."""

    fold: int
    train: np.ndarray
    val: np.ndarray | None
    test: np.ndarray


def fold_assignments(cfg: ExperimentConfig, table) -> np.ndarray:
    """Fold id per row (k-fold) or 0/1 per row (holdout: 1 = test)."""
    from cxr_core.data.splits import holdout_assignments, kfold_assignments

    proto = cfg.protocol
    if proto.kind == "kfold":
        return kfold_assignments(
            table, proto.n_folds, proto.seed, group_by_patient=proto.group_by_patient, style=proto.split_style
        )
    if proto.kind == "holdout":
        held = holdout_assignments(table, proto.holdout_fraction, proto.seed, group_by_patient=proto.group_by_patient)
        return held.astype(np.int64)
    raise ValueError(f"protocol.kind {proto.kind!r} has no fold assignment")


def make_splits(cfg: ExperimentConfig, table, assignments: np.ndarray) -> list[Split]:
    """Train/validation/test positions for every fold, as ``protocol.validation`` says.

    ``test_fold``: the validation data is the test fold itself (CVR-Net's code [CVR-T]; CoroNet's 4-fold
    CV where the held-out fold is the "validation" set [S4]). ``inner_split``: a patient-grouped,
    stratified part of the training folds (leak-free). ``none``: no validation data.
    """
    from cxr_core.data.splits import holdout_assignments

    proto = cfg.protocol
    n_splits = proto.n_folds if proto.kind == "kfold" else 1
    splits = []
    for k in range(n_splits):
        test_mask = assignments == (k if proto.kind == "kfold" else 1)
        train_pos = np.flatnonzero(~test_mask)
        test_pos = np.flatnonzero(test_mask)
        val_pos = None
        if proto.validation == "test_fold":
            val_pos = test_pos
        elif proto.validation == "inner_split":
            inner = table.subset(train_pos)
            held = holdout_assignments(
                inner, proto.inner_val_fraction, proto.seed + 1000 + k, group_by_patient=proto.group_by_patient
            )
            val_pos = train_pos[held]
            train_pos = train_pos[~held]
        elif proto.validation != "none":
            raise ValueError(f"protocol.validation: expected test_fold, inner_split or none, found {proto.validation!r}")
        splits.append(Split(k, train_pos, val_pos, test_pos))
    return splits


SPLIT_ROLES = ("train", "val", "test", "unused")


def write_fold_csvs(run_dir: Path, table, splits: Sequence[Split]) -> None:
    """splits/fold_k.csv: every sample with its role (train / val / test / unused) in fold k."""
    from cxr_core.io import atomic_path

    for split in splits:
        role = np.array(["unused"] * len(table), dtype=object)
        role[split.train] = "train"
        if split.val is not None and split.val is not split.test:
            role[split.val] = "val"
        role[split.test] = "test"
        frame = pd.DataFrame(
            {
                "sample_id": table.frame["sample_id"].to_numpy(),
                "label": table.frame["label"].to_numpy(),
                "patient_id": table.frame["patient_id"].to_numpy(),
                "role": role,
            }
        )
        with atomic_path(run_dir / "splits" / f"fold_{split.fold}.csv") as tmp:
            frame.to_csv(tmp, index=False)


def read_fold_roles(path: Path, table) -> np.ndarray:
    """The role of each table row from a splits/fold_k.csv; errors name the file and the sample."""
    frame = pd.read_csv(path, dtype={"sample_id": str, "role": str}, keep_default_na=False)
    for col in ("sample_id", "role"):
        if col not in frame.columns:
            raise RunDirectoryError(f"{path}: missing column {col!r}; found {list(frame.columns)}")
    bad = sorted(set(frame["role"]) - set(SPLIT_ROLES))
    if bad:
        raise RunDirectoryError(f"{path}: unknown role {bad[0]!r}; expected one of {SPLIT_ROLES}")
    roles = dict(zip(frame["sample_id"], frame["role"]))
    ids = table.frame["sample_id"].astype(str).tolist()
    missing = [s for s in ids if s not in roles]
    if missing or len(roles) != len(ids) or len(frame) != len(ids):
        extra = sorted(set(roles) - set(ids))
        first = missing[0] if missing else (extra[0] if extra else "(repeated sample_id)")
        raise RunDirectoryError(
            f"{path}: split does not match the data ({len(missing)} sample(s) missing from the CSV, {len(extra)} "
            f"not in the data; first: {first!r}); was the data changed since the run started?"
        )
    return np.array([roles[s] for s in ids], dtype=object)


def read_fold_csvs(run_dir: Path, table, n_splits: int, validation: str) -> list[Split] | None:
    """The splits a run already wrote, or None when it wrote none."""
    paths = [run_dir / "splits" / f"fold_{k}.csv" for k in range(n_splits)]
    if not all(p.is_file() for p in paths):
        return None
    splits = []
    for k, path in enumerate(paths):
        role = read_fold_roles(path, table)
        test = np.flatnonzero(role == "test")
        if validation == "inner_split":
            val = np.flatnonzero(role == "val")
            if not len(val):
                raise RunDirectoryError(
                    f"{path}: no 'val' rows, but protocol.validation is inner_split (the run that wrote these "
                    "splits validated on the test fold); reuse splits of an inner_split run, or change "
                    "protocol.validation"
                )
            train = np.flatnonzero(role == "train")
        else:
            # Splits of an inner_split run reused without one: their validation rows train.
            train = np.flatnonzero((role == "train") | (role == "val"))
            val = test if validation == "test_fold" else None
        splits.append(Split(k, train, val, test))
    return splits


def resolve_splits(cfg: ExperimentConfig, table, run_dir: Path) -> list[Split]:
    """This run's splits: the ones it wrote before, those of ``protocol.splits_from``, or new ones.

    Reused splits are checked sample by sample against this run's data and copied into its splits/.
    """
    n_splits = cfg.protocol.n_folds if cfg.protocol.kind == "kfold" else 1
    splits = read_fold_csvs(run_dir, table, n_splits, cfg.protocol.validation)
    if splits is not None:
        return splits
    if cfg.protocol.splits_from:
        source = Path(cfg.protocol.splits_from)
        source_run = source.parent if source.name == "splits" else source
        splits = read_fold_csvs(source_run, table, n_splits, cfg.protocol.validation)
        if splits is None:
            raise RunDirectoryError(
                f"protocol.splits_from: {source_run / 'splits'} does not hold fold_0.csv .. fold_{n_splits - 1}.csv"
            )
    else:
        splits = make_splits(cfg, table, fold_assignments(cfg, table))
    write_fold_csvs(run_dir, table, splits)
    return splits


# ----------------------------------------------------------------------------------- models and data
def pipeline_spec(cfg: ExperimentConfig):
    """The :class:`~cxr_core.data.pipeline.PipelineSpec` of an experiment."""
    from cxr_core.data.augment import Keras2AugmentSpec
    from cxr_core.data.pipeline import PipelineSpec

    aug = cfg.augment
    augment = None
    if aug.enabled:
        zoom = tuple(aug.zoom_range) if isinstance(aug.zoom_range, (list, tuple)) else float(aug.zoom_range)
        augment = Keras2AugmentSpec(
            rotation_range=aug.rotation_range,
            width_shift_range=aug.width_shift_range,
            height_shift_range=aug.height_shift_range,
            shear_range=aug.shear_range,
            zoom_range=zoom,
            channel_shift_range=aug.channel_shift_range,
            horizontal_flip=aug.horizontal_flip,
            vertical_flip=aug.vertical_flip,
            fill_mode=aug.fill_mode,
            cval=aug.cval,
        )
    pre = cfg.preprocess
    return PipelineSpec(
        image_size=tuple(pre.image_size),
        resize_method=pre.resize_method,
        scaling=pre.scaling,
        augment=augment,
        cache=pre.cache,
    )


def model_builder(cfg: ExperimentConfig, num_classes: int, *, for_weights: bool = False) -> Callable[[], object]:
    """A function building a fresh model of the experiment's family (with ``init_from`` weights).

    ``for_weights=True`` builds the bare architecture (no ImageNet backbone, no ``init_from``) for a
    model whose every weight is about to be loaded from a file: nothing is downloaded or read twice.
    """
    from cxr_core.registry import get_family

    family = get_family(cfg.model.family)
    input_shape = (*tuple(cfg.preprocess.image_size), 3)

    def build():
        model = family.build(
            num_classes=num_classes,
            input_shape=input_shape,
            backbone_weights=None if for_weights else cfg.model.backbone_weights,
            **dict(cfg.model.options),
        )
        if cfg.model.init_from and not for_weights:
            (family.init_weights or init_from_weights)(model, cfg.model.init_from)
        return model

    return build


def check_parameter_count(cfg: ExperimentConfig, num_classes: int) -> None:
    """Build the model once and compare its parameter count with ``extra.expected_params``.

    The experiment YAMLs record the published counts (CoroNet Table II [S4], CVR-Net's summary
    [CVR-T]); a mismatch means the config does not describe the published model, and the run stops
    before training. Smoke runs (reduced input) skip the check.
    """
    expected = (cfg.extra or {}).get("expected_params")
    if not expected:
        return
    model = model_builder(cfg, num_classes, for_weights=True)()
    total = int(model.count_params())
    if total != int(expected[0]):
        raise ValueError(
            f"extra.expected_params: the {cfg.model.family} model of this config has {total:,} parameters, the "
            f"config expects {int(expected[0]):,} (input {tuple(cfg.preprocess.image_size)}, {num_classes} classes)"
        )


def init_from_weights(model, path: str) -> None:
    """Start from another model's weights (Keras 3 ``.weights.h5``), all layers but a head of another size.

    CoroNet's paper builds its 3- and 2-class models by fine-tuning the 4-class model [S4]; families
    with their own loader set :attr:`~cxr_core.registry.ModelFamily.init_weights`. Here every layer the
    file fills with matching shapes is copied; the others (a classification head of another class
    count) keep their fresh weights and are named in the log. A file that fills fewer than half of the
    model's weight-bearing layers is refused, naming the first layer it lacks.
    """
    import warnings

    import keras

    from cxr_core.legacy import WeightFileError, weighted_layers

    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"model.init_from: weight file not found: {source}")
    donor = keras.models.clone_model(model)
    before = {name: [np.array(w) for w in layer.get_weights()] for name, layer in weighted_layers(donor).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            donor.load_weights(source, skip_mismatch=True)
        except (ValueError, OSError) as exc:
            raise WeightFileError(f"model.init_from: {source} cannot be read as Keras weights: {exc}") from exc
    ours = weighted_layers(model)
    loaded, fresh = [], []
    for name, layer in weighted_layers(donor).items():
        now = layer.get_weights()
        if any(not np.array_equal(a, b) for a, b in zip(now, before[name])):
            ours[name].set_weights(now)
            loaded.append(name)
        else:
            fresh.append(name)
    if len(loaded) < len(before) / 2:
        raise WeightFileError(
            f"model.init_from: {source} fits only {len(loaded)} of the model's {len(before)} weight-bearing layers; "
            f"first layer it does not fill: {fresh[0]!r}"
        )
    if fresh:
        print(f"model.init_from: {len(loaded)} layers from {source.name}; kept fresh: {fresh}", flush=True)


def predict_probabilities(model, dataset, *, output_kind: str = "probabilities") -> np.ndarray:
    """Class probabilities for every batch of ``dataset`` (its order), float64.

    Multi-output models (CORONA-Net with its decoder) contribute their first output; logits
    (``output_kind="logits"``) go through a softmax.
    """
    import tensorflow as tf

    @tf.function
    def step(x):
        out = model(x, training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        elif isinstance(out, dict):
            out = next(iter(out.values()))
        out = tf.cast(out, tf.float32)
        return tf.nn.softmax(out) if output_kind == "logits" else out

    chunks = [step(batch[0] if isinstance(batch, tuple) else batch).numpy() for batch in dataset]
    return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros((0, 0))


def predictions_frame(table, probs: np.ndarray) -> pd.DataFrame:
    """sample_id, true label (name and index), predicted label and one probability column per class."""
    frame = pd.DataFrame(
        {
            "sample_id": table.frame["sample_id"].to_numpy(),
            "label": table.frame["label"].to_numpy(),
            "label_index": table.labels,
            "predicted": [table.class_names[i] for i in probs.argmax(axis=1)],
            "predicted_index": probs.argmax(axis=1),
        }
    )
    for i, name in enumerate(table.class_names):
        frame[f"prob_{name}"] = probs[:, i]
    return frame


def read_predictions(path: Path, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities from a predictions.csv."""
    frame = pd.read_csv(path)
    cols = [f"prob_{c}" for c in class_names]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column {missing[0]!r}; expected {cols}")
    return frame["label_index"].to_numpy(dtype=np.int64), frame[cols].to_numpy(dtype=np.float64)


# ----------------------------------------------------------------------------------- one fold
def run_fold(cfg: ExperimentConfig, table, split: Split, run_dir: Path, progress: Progress, strategy=None) -> Path:
    """Train and evaluate one fold; returns its predictions.csv (skips a finished fold)."""
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.metrics import evaluate_predictions
    from cxr_core.registry import get_family
    from cxr_core.report import plot_confusion_matrix, plot_training_curves, write_table
    from cxr_core.training import class_weights, fit_split, seed_everything

    fold_dir = run_dir / f"fold_{split.fold}"
    pred_path = fold_dir / "predictions.csv"
    if pred_path.is_file():
        progress(f"fold {split.fold}: finished earlier, skipped ({pred_path})")
        return pred_path
    fold_dir.mkdir(parents=True, exist_ok=True)
    # Each fold seeds itself, so a fold trained alone (--folds, another machine, a restart) starts from
    # the same weights as in a full run.
    seed_everything(cfg.train.seed + split.fold, cfg.train.deterministic)
    train_cfg = cfg.train
    spec = pipeline_spec(cfg)
    train_table = table.subset(split.train)
    test_table = table.subset(split.test)
    val_table = table.subset(split.val) if split.val is not None else None
    n_val = 0 if val_table is None else len(val_table)
    progress(
        f"fold {split.fold}: train {len(train_table)}, validation {n_val}"
        f"{' (= test fold)' if split.val is split.test else ''}, test {len(test_table)}"
    )
    seed = train_cfg.seed + split.fold

    def train_data(first_epoch: int):
        return build_dataset(
            train_table, spec, batch_size=train_cfg.batch_size, shuffle=True, augment=cfg.augment.enabled,
            seed=seed + 7919 * first_epoch, repeat=train_cfg.steps_per_epoch is not None,
        )

    def val_data(first_epoch: int):
        return build_dataset(
            val_table, spec, batch_size=train_cfg.batch_size, shuffle=False,
            augment=cfg.augment.enabled and cfg.augment.on_validation, seed=seed + 1 + 7919 * first_epoch,
            repeat=train_cfg.validation_steps is not None,
        )

    family = get_family(cfg.model.family)
    t0 = time.perf_counter()
    weights = class_weights(train_cfg.class_weight, train_table.labels, table.class_names)
    make_val = val_data if val_table is not None and len(val_table) else None
    if family.fit is not None:
        result = family.fit(cfg, model_builder(cfg, len(table.class_names)), train_data, make_val, fold_dir,
                            class_weight=weights, strategy=strategy)
    else:
        result = fit_split(
            model_builder(cfg, len(table.class_names)),
            train_data,
            make_val,
            fold_dir,
            train_cfg,
            class_weight=weights,
            steps_per_epoch=train_cfg.steps_per_epoch,
            validation_steps=train_cfg.validation_steps,
            strategy=strategy,
        )
    progress(f"fold {split.fold}: trained {result.epochs_done} epochs in {time.perf_counter() - t0:.0f} s")

    model = model_builder(cfg, len(table.class_names), for_weights=True)()
    model.load_weights(result.weights_path)
    test_ds = build_dataset(test_table, spec, batch_size=cfg.evaluation.batch_size, shuffle=False, augment=False)
    probs = predict_probabilities(model, test_ds, output_kind=family.output_kind)
    evaluation = evaluate_predictions(
        test_table.labels, probs, table.class_names, n_boot=cfg.evaluation.n_bootstrap, seed=cfg.evaluation.seed
    )
    write_table(evaluation.per_class, fold_dir / "metrics")
    plot_confusion_matrix(evaluation.confusion, table.class_names, fold_dir / "confusion_matrix.png",
                          title=f"{cfg.name} fold {split.fold}")
    plot_confusion_matrix(evaluation.confusion, table.class_names, fold_dir / "confusion_matrix_normalized.png",
                          normalize=True, title=f"{cfg.name} fold {split.fold} (row-normalised)")
    if result.log_path.is_file():
        plot_training_curves(result.log_path, fold_dir / "curves.png")
    write_table(predictions_frame(test_table, probs), fold_dir / "predictions", index=False, markdown=False)
    progress(f"fold {split.fold}: test accuracy {evaluation.accuracy:.4f} on {len(test_table)} images")
    return pred_path


# ----------------------------------------------------------------------------------- the run
def _experiment_part(config: dict) -> dict:
    """A resolved config without its data section: what must agree for runs to resume or merge."""
    return {k: v for k, v in (config or {}).items() if k != "data"}


def write_run_config(run_dir: Path, cfg: ExperimentConfig, table, smoke: bool) -> None:
    """config.yaml: resolved config plus provenance; a resumed run must match it."""
    resolved = config_to_dict(cfg)
    digest = manifest_hash(table)
    record = {
        "config": resolved,
        "package_version": __version__,
        "git_commit": git_commit(),
        "data_manifest_sha256": digest,
        "n_samples": len(table),
        "class_names": list(table.class_names),
        "smoke": smoke,
    }
    path = run_dir / "config.yaml"
    if path.is_file():
        old = yaml.safe_load(path.read_text()) or {}
        if old.get("data_manifest_sha256") != digest:
            raise RunDirectoryError(
                f"{path}: this run directory was made from other data (manifest hash {old.get('data_manifest_sha256')}, "
                f"now {digest}); use a new --run-dir"
            )
        old_cfg = _experiment_part(old.get("config"))
        new_cfg = _experiment_part(resolved)
        if old_cfg != new_cfg:
            changed = sorted(k for k in set(old_cfg) | set(new_cfg) if old_cfg.get(k) != new_cfg.get(k))
            raise RunDirectoryError(
                f"{path}: this run directory was made with a different config (sections differ: {changed}); "
                "use a new --run-dir"
            )
        return
    atomic_write_text(path, yaml.safe_dump(record, sort_keys=False))


def run_protocol(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    folds: Sequence[int] | None = None,
    smoke: bool = False,
    progress: Progress = print,
    write_report: bool = True,
) -> Path:
    """Run (or resume) the experiment's protocol into ``run_dir``; returns ``run_dir``."""
    from cxr_core.training import make_strategy, seed_everything, set_precision

    run_dir = Path(run_dir)
    if cfg.data.test_source and cfg.protocol.kind != "fixed_split":
        raise ValueError(
            f"data.test_source ({cfg.data.test_source}) is only used by protocol.kind fixed_split, and this "
            f"experiment's protocol is {cfg.protocol.kind}; set --set protocol.kind=fixed_split (and "
            "protocol.validation inner_split for a validation part of the training data)"
        )
    n_splits = cfg.protocol.n_folds if cfg.protocol.kind == "kfold" else 1
    for k in folds or ():
        if not 0 <= k < n_splits:
            raise ValueError(f"--folds: fold {k} does not exist; this protocol has folds 0..{n_splits - 1}")
    run_dir.mkdir(parents=True, exist_ok=True)
    set_precision(cfg.train.mixed_precision)
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    strategy = make_strategy(cfg.train.strategy)

    table = prepare_samples(cfg, load_samples(cfg), smoke=smoke, progress=progress)
    if cfg.model.num_classes is not None and cfg.model.num_classes != len(table.class_names):
        raise ValueError(
            f"model.num_classes is {cfg.model.num_classes} but the data has {len(table.class_names)} classes "
            f"{list(table.class_names)} (data.class_names / label_map)"
        )
    counts = ", ".join(f"{c} {n}" for c, n in table.class_counts().items())
    progress(f"{cfg.name}: {len(table)} images ({counts}); {len(table.skipped)} skipped")
    write_run_config(run_dir, cfg, table, smoke)
    write_samples(run_dir, table)
    if not smoke:
        check_parameter_count(cfg, len(table.class_names))

    if cfg.protocol.kind == "fixed_split":
        test_table = load_samples(cfg, test=True)
        return run_fixed_split(cfg, table, test_table, run_dir, progress, strategy, write_report)

    splits = resolve_splits(cfg, table, run_dir)
    chosen = range(n_splits) if folds is None else list(folds)
    for k in chosen:
        run_fold(cfg, table, splits[k], run_dir, progress, strategy)
    if write_report:
        summarize_runs([run_dir])
    return run_dir


def run_fixed_split(cfg, train_table, test_table, run_dir, progress, strategy, write_report) -> Path:
    """A fixed train/test split (COVIDx): one 'fold' 0 whose test set is ``data.test_source``."""
    from cxr_core.data.samples import SampleTable
    from cxr_core.data.splits import holdout_assignments

    if tuple(test_table.class_names) != tuple(train_table.class_names):
        raise ValueError(
            f"data.test_source classes {list(test_table.class_names)} differ from data.source classes "
            f"{list(train_table.class_names)}"
        )
    frame = pd.concat([train_table.frame, test_table.frame], ignore_index=True)
    if frame["sample_id"].duplicated().any():
        frame["sample_id"] = (["train/"] * len(train_table) + ["test/"] * len(test_table)) + frame["sample_id"]
    combined = SampleTable(frame, train_table.class_names,
                           pd.concat([train_table.skipped, test_table.skipped], ignore_index=True))
    n_train = len(train_table)
    train_pos = np.arange(n_train)
    test_pos = np.arange(n_train, len(combined))
    val_pos = None
    validation = cfg.protocol.validation
    if validation == "test_fold":
        val_pos = test_pos
    elif validation == "inner_split":
        held = holdout_assignments(train_table, cfg.protocol.inner_val_fraction, cfg.protocol.seed,
                                   group_by_patient=cfg.protocol.group_by_patient)
        val_pos, train_pos = train_pos[held], train_pos[~held]
    split = Split(0, train_pos, val_pos, test_pos)
    write_samples(run_dir, combined)
    if read_fold_csvs(run_dir, combined, 1, validation) is None:
        write_fold_csvs(run_dir, combined, [split])
    run_fold(cfg, combined, split, run_dir, progress, strategy)
    if write_report:
        summarize_runs([run_dir])
    return run_dir


def write_samples(run_dir: Path, table) -> None:
    """samples.csv (and skipped.csv when files were left out)."""
    from cxr_core.io import atomic_path

    with atomic_path(run_dir / "samples.csv") as tmp:
        table.frame.drop(columns=["path"]).to_csv(tmp, index=False)
    if len(table.skipped):
        with atomic_path(run_dir / "skipped.csv") as tmp:
            table.skipped.to_csv(tmp, index=False)


# ----------------------------------------------------------------------------------- merging runs
def collect_folds(run_dirs: Sequence[str | Path]) -> tuple[dict, dict[int, Path]]:
    """The shared config record and each finished fold's predictions.csv across run directories.

    Runs made with ``--folds`` on different machines merge when they share config and data (their
    config.yaml must agree); a fold present in two directories must be the same file content.
    """
    record = None
    found: dict[int, Path] = {}
    for rd in map(Path, run_dirs):
        cfg_path = rd / "config.yaml"
        if not cfg_path.is_file():
            raise RunDirectoryError(f"{rd}: not a run directory (no config.yaml)")
        this = yaml.safe_load(cfg_path.read_text()) or {}
        if record is None:
            record = this
        else:
            for key in ("data_manifest_sha256", "class_names"):
                if this.get(key) != record.get(key):
                    raise RunDirectoryError(f"{cfg_path}: {key} differs from the first run directory's; cannot merge")
            if _experiment_part(this.get("config")) != _experiment_part(record.get("config")):
                raise RunDirectoryError(f"{cfg_path}: experiment config differs from the first run directory's; cannot merge")
        for pred in sorted(rd.glob("fold_*/predictions.csv")):
            k = int(pred.parent.name.split("_")[1])
            if k in found and found[k].read_bytes() != pred.read_bytes():
                raise RunDirectoryError(f"fold {k} appears in {found[k]} and {pred} with different predictions")
            found.setdefault(k, pred)
    if record is None:
        raise RunDirectoryError("no run directory given")
    return record, dict(sorted(found.items()))


def summarize_runs(run_dirs: Sequence[str | Path], out_dir: str | Path | None = None) -> Path:
    """Merge the folds of one or more run directories into results.csv + report.md (+ PNGs).

    Returns the report's path. The output goes to ``out_dir`` (default: the first run directory).
    """
    from cxr_core.metrics import evaluate_predictions
    from cxr_core.report import write_run_report

    record, folds = collect_folds(run_dirs)
    out = Path(out_dir) if out_dir else Path(run_dirs[0])
    class_names = tuple(record["class_names"])
    cfg = record.get("config") or {}
    evaluation = cfg.get("evaluation") or {}
    per_fold = []
    for k, path in folds.items():
        y, p = read_predictions(path, class_names)
        result = evaluate_predictions(
            y, p, class_names, n_boot=int(evaluation.get("n_bootstrap", 1000)), seed=int(evaluation.get("seed", 0))
        )
        result.fold = k
        per_fold.append(result)
    cfg = dict(cfg)
    if record.get("smoke"):
        cfg["warnings"] = [
            "SMOKE RUN: reduced input size where the model allows it and a few training steps from the config's initial weights. These figures "
            "check that the pipeline runs end to end; they say nothing about the model or the paper."
        ]
    skipped = [(Path(rd) / "skipped.csv") for rd in run_dirs if (Path(rd) / "skipped.csv").is_file()]
    if skipped:
        n = len(pd.read_csv(skipped[0]))
        cfg.setdefault("warnings", []).append(
            f"{n} file(s) were left out of this run (data.on_bad_file: skip or label mapping); each is listed "
            f"with the reason in {skipped[0].name}"
        )
    published = (cfg.get("published") or {}).get("table")
    protocol = cfg.get("protocol") or {}
    n_expected = int(protocol.get("n_folds", 1)) if protocol.get("kind") == "kfold" else 1
    missing = [k + 1 for k in range(n_expected) if k not in folds]
    if missing:
        cfg.setdefault("warnings", []).append(
            f"INCOMPLETE: folds {missing} of {n_expected} have not been run (or their run directory was not "
            "given); the mean and pooled figures cover only the folds listed"
        )
    return Path(
        write_run_report(
            out, cfg, per_fold, published,
            n_boot=int(evaluation.get("n_bootstrap", 1000)), seed=int(evaluation.get("seed", 0)),
        )
    )
