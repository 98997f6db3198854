"""An experiment's splits: which rows train, validate and test in each fold, and the split files.

One split-file format: ``splits/fold_k.csv`` in the run directory, one row per sample of the run's
sample table with its role in fold ``k``::

    sample_id,label,patient_id,role          role: train | val | test | unused

One seeding rule: test folds come from :func:`cxr_core.protocol.splits.kfold_assignments` /
:func:`~cxr_core.protocol.splits.holdout_assignments` seeded with ``protocol.seed``; the validation
part of fold ``k``'s training rows (``protocol.validation: inner_split``) is drawn with
:func:`cxr_core.seeds.inner_validation_seed` (``protocol.seed + 1000 + k``), for k-fold, holdout and fixed splits
alike.

:func:`resolve_splits` gives a run the splits it wrote before (a resumed run), those of another run
(``protocol.splits_from``, checked sample by sample), or new ones, and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from cxr_core.config.choices import VALIDATION_MODES
from cxr_core.config.experiment import ExperimentConfig
from cxr_core.atomic_files import atomic_path
from cxr_core.runs.directory import RunDirectoryError
from cxr_core.seeds import inner_validation_seed
from cxr_core.errors import CxrError

SPLIT_ROLES = ("train", "val", "test", "unused")


@dataclass
class Split:
    """One fold: positions (int64 row indices) of the training, validation and test rows in the sample table.

    ``val`` is ``test`` itself (the same array) with ``protocol.validation: test_fold``, and None with
    ``none``.
    """

    fold: int
    train: np.ndarray
    val: np.ndarray | None
    test: np.ndarray


def n_splits(cfg: ExperimentConfig) -> int:
    """Number of folds of the protocol: ``protocol.n_folds`` for k-fold, else 1."""
    return cfg.protocol.n_folds if cfg.protocol.kind == "kfold" else 1


def holdout_style(cfg: ExperimentConfig) -> str:
    """The style of a holdout or inner validation split: ``protocol.split_style`` when it is one of
    :data:`cxr_core.protocol.splits.HOLDOUT_STYLES` (``keras_validation_split``: Keras 2's
    ``validation_split``, the first ``int(fraction * n)`` sorted files of each class [CN]), else
    ``stratified`` (a k-fold style such as ``authors_contiguous`` cuts folds, not holdout parts)."""
    from cxr_core.protocol.splits import HOLDOUT_STYLES

    style = cfg.protocol.split_style
    return style if style in HOLDOUT_STYLES else "stratified"


def fold_assignments(cfg: ExperimentConfig, table) -> np.ndarray:
    """Fold id per row (k-fold) or 0/1 per row (holdout: 1 = test), int64."""
    from cxr_core.protocol.splits import fold_strata, holdout_assignments, kfold_assignments

    proto = cfg.protocol
    if proto.kind == "kfold":
        strata = fold_strata(table, proto.fold_strata) if proto.split_style == "authors_contiguous" else None
        return kfold_assignments(
            table, proto.n_folds, proto.seed, group_by_patient=proto.group_by_patient, style=proto.split_style,
            strata=strata,
        )
    if proto.kind == "holdout":
        held = holdout_assignments(table, proto.holdout_fraction, proto.seed, group_by_patient=proto.group_by_patient,
                                   style=holdout_style(cfg))
        return held.astype(np.int64)
    raise ValueError(f"protocol.kind {proto.kind!r} has no fold assignment")


def with_validation(cfg: ExperimentConfig, table, fold: int, train_pos: np.ndarray, test_pos: np.ndarray) -> Split:
    """Fold ``fold`` with its validation rows, as ``protocol.validation`` says.

    ``test_fold``: the validation data is the test fold itself (CVR-Net's code [CVR-T]; CoroNet's 4-fold
    CV where the held-out fold is the "validation" set [S4]). ``inner_split``: a patient-grouped,
    stratified part (``protocol.inner_val_fraction``) of the training rows (leak-free), seeded by
    :func:`inner_validation_seed`. ``none``: no validation data.
    """
    from cxr_core.protocol.splits import holdout_assignments

    proto = cfg.protocol
    val_pos = None
    if proto.validation == "test_fold":
        val_pos = test_pos
    elif proto.validation == "inner_split":
        held = holdout_assignments(
            table.subset(train_pos), proto.inner_val_fraction, inner_validation_seed(proto.seed, fold),
            group_by_patient=proto.group_by_patient, style=holdout_style(cfg),
        )
        val_pos, train_pos = train_pos[held], train_pos[~held]
    elif proto.validation == "validation_source":
        raise CxrError("protocol.validation validation_source: the validation rows come from data.validation_source "
                         "(--val-data), which only protocol.kind fixed_split reads")
    elif proto.validation != "none":
        raise ValueError(f"protocol.validation: expected one of {VALIDATION_MODES}, found {proto.validation!r}")
    return Split(fold, train_pos, val_pos, test_pos)


def make_splits(cfg: ExperimentConfig, table, assignments: np.ndarray) -> list[Split]:
    """Train/validation/test positions for every fold from :func:`fold_assignments`."""
    proto = cfg.protocol
    splits = []
    for k in range(n_splits(cfg)):
        test_mask = assignments == (k if proto.kind == "kfold" else 1)
        splits.append(with_validation(cfg, table, k, np.flatnonzero(~test_mask), np.flatnonzero(test_mask)))
    return splits


def fixed_split(cfg: ExperimentConfig, table, n_train: int, n_val: int = 0) -> Split:
    """The one split of ``protocol.kind: fixed_split``: rows ``[0, n_train)`` train, the rest test.

    With ``n_val`` (``protocol.validation: validation_source``, the rows of ``data.validation_source``
    placed after the training rows): rows ``[n_train, n_train + n_val)`` validate, the rest test.
    """
    if cfg.protocol.validation == "validation_source":
        if n_val < 1:
            raise CxrError("protocol.validation validation_source: data.validation_source (--val-data) gave no rows")
        stop = n_train + n_val
        return Split(0, np.arange(n_train), np.arange(n_train, stop), np.arange(stop, len(table)))
    return with_validation(cfg, table, 0, np.arange(n_train), np.arange(n_train, len(table)))


# ----------------------------------------------------------------------------------- split files
def split_path(run_dir: Path, fold: int) -> Path:
    """``run_dir/splits/fold_k.csv``."""
    return Path(run_dir) / "splits" / f"fold_{fold}.csv"


def write_fold_csvs(run_dir: Path, table, splits: Sequence[Split]) -> None:
    """splits/fold_k.csv: every sample with its role (train / val / test / unused) in fold k."""
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
        with atomic_path(split_path(run_dir, split.fold)) as tmp:
            frame.to_csv(tmp, index=False)


def read_fold_roles(path: Path, table) -> np.ndarray:
    """The role of each table row from a splits/fold_k.csv.

    Raises:
        RunDirectoryError: a missing column, an unknown role, or a sample of the table missing from
            the file (or the other way round), naming the file and the first such sample.
    """
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


def read_fold_csvs(run_dir: Path, table, n_folds: int, validation: str) -> list[Split] | None:
    """The splits a run already wrote (``fold_0.csv .. fold_{n_folds-1}.csv``), or None when it wrote none.

    ``validation`` is this run's ``protocol.validation``: the validation rows of an ``inner_split``
    run train when reused without one; ``inner_split`` needs files with ``val`` rows.
    """
    paths = [split_path(run_dir, k) for k in range(n_folds)]
    if not all(p.is_file() for p in paths):
        return None
    splits = []
    for k, path in enumerate(paths):
        role = read_fold_roles(path, table)
        test = np.flatnonzero(role == "test")
        if validation in ("inner_split", "validation_source"):
            val = np.flatnonzero(role == "val")
            if not len(val):
                raise RunDirectoryError(
                    f"{path}: no 'val' rows, but protocol.validation is {validation} (the run that wrote these "
                    "splits validated on the test fold); reuse splits of an inner_split run, or change "
                    "protocol.validation"
                )
            train = np.flatnonzero(role == "train")
        else:
            train = np.flatnonzero((role == "train") | (role == "val"))
            val = test if validation == "test_fold" else None
        splits.append(Split(k, train, val, test))
    return splits


def resolve_splits(cfg: ExperimentConfig, table, run_dir: Path,
                   new_splits: Callable[[], list[Split]] | None = None) -> list[Split]:
    """This run's splits: the ones it wrote before, those of ``protocol.splits_from``, or new ones.

    ``new_splits`` makes new ones (default: :func:`make_splits` of :func:`fold_assignments`). Reused
    splits are checked sample by sample against this run's data and copied into its splits/.

    Raises:
        RunDirectoryError: ``protocol.splits_from`` holds no split files for every fold, or a split
            file does not match the data (:func:`read_fold_roles`).
    """
    run_dir = Path(run_dir)
    count = n_splits(cfg)
    splits = read_fold_csvs(run_dir, table, count, cfg.protocol.validation)
    if splits is not None:
        return splits
    if cfg.protocol.splits_from:
        source = Path(cfg.protocol.splits_from)
        source_run = source.parent if source.name == "splits" else source
        splits = read_fold_csvs(source_run, table, count, cfg.protocol.validation)
        if splits is None:
            raise RunDirectoryError(
                f"protocol.splits_from: {source_run / 'splits'} does not hold fold_0.csv .. fold_{count - 1}.csv"
            )
    elif new_splits is not None:
        splits = new_splits()
    else:
        splits = make_splits(cfg, table, fold_assignments(cfg, table))
    write_fold_csvs(run_dir, table, splits)
    return splits
