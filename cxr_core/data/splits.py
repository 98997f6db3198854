"""Splits of a :class:`~cxr_core.data.samples.SampleTable`: undersampling, k-fold, holdout, split CSVs.

Everything is seeded with ``np.random.default_rng(seed)`` (or scikit-learn's ``random_state=seed``),
so the same table and seed always give the same split.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, StratifiedShuffleSplit

from cxr_core.data.samples import SampleTable
from cxr_core.io import atomic_write_text

#: CoroNet Table I: images per class after random undersampling [S4].
CORONET_TABLE1_COUNTS = {"normal": 310, "pneumonia_bacterial": 330, "pneumonia_viral": 327, "covid": 284}

SPLIT_COLUMNS = ("sample_id", "label", "patient_id", "fold")
_STYLES = ("stratified", "authors_contiguous")


class SplitError(ValueError):
    """A split that cannot be made or a split file that does not fit its table."""


def undersample(table: SampleTable, counts, seed: int) -> SampleTable:
    """Randomly undersample classes to fixed sizes, keeping the table's row order among kept rows.

    CoroNet "random under-sampling of majority classes" to Table I (310 normal, 330 bacterial,
    327 viral, 284 COVID-19) [S4]; :data:`CORONET_TABLE1_COUNTS` spells them with cxr4-mini's folder
    names (the authors' folders were ``pneumonia_bac``/``pneumonia_vir`` [CN]).

    Args:
        table: the samples.
        counts: ``{class: n}`` (classes not named keep all their rows), an ``int`` for every class,
            or ``"minority"`` (every class cut to the size of the smallest class).
        seed: ``np.random.default_rng(seed)`` draws, class by class in ``class_names`` order.

    Raises:
        SplitError: unknown class, negative count, or a count above what the class has (naming the
            class, requested and available), or ``"minority"`` with an empty class.
    """
    have = table.class_counts()
    if isinstance(counts, str):
        if counts != "minority":
            raise SplitError(f"counts must be a dict, an int or 'minority'; got {counts!r}")
        smallest = int(have.min())
        if smallest == 0:
            raise SplitError(f"undersample to the minority class: class {have.idxmin()!r} has no samples")
        wanted = {c: smallest for c in table.class_names}
    elif isinstance(counts, (int, np.integer)) and not isinstance(counts, bool):
        wanted = {c: int(counts) for c in table.class_names}
    else:
        unknown = [c for c in counts if c not in table.class_names]
        if unknown:
            raise SplitError(f"undersample counts name unknown classes {unknown}; classes {list(table.class_names)}")
        wanted = {c: int(counts.get(c, have[c])) for c in table.class_names}
    for c, n in wanted.items():
        if n < 0:
            raise SplitError(f"undersample: negative count {n} for class {c!r}")
        if n > have[c]:
            raise SplitError(f"undersample: class {c!r} requested {n} samples but has only {have[c]} available")
    rng = np.random.default_rng(seed)
    labels = table.frame["label"].astype(str).to_numpy()
    keep = np.zeros(len(table), dtype=bool)
    for c in table.class_names:
        rows = np.flatnonzero(labels == c)
        keep[rng.choice(rows, size=wanted[c], replace=False)] = True
    return table.subset(np.flatnonzero(keep))


def _groups_or_none(table: SampleTable, group_by_patient: bool) -> np.ndarray | None:
    """Patient id per row; rows without one are their own group. ``None`` when nobody has one."""
    return table.groups if group_by_patient else None


def _check_enough(table: SampleTable, n: int, what: str) -> None:
    counts = table.class_counts()
    small = counts[(counts > 0) & (counts < n)]
    if len(small):
        raise SplitError(
            f"{what}: class {small.index[0]!r} has {int(small.iloc[0])} samples, fewer than {n} folds"
        )


def kfold_assignments(
    table: SampleTable,
    n_folds: int,
    seed: int,
    *,
    group_by_patient: bool = True,
    style: str = "stratified",
) -> np.ndarray:
    """Fold id (``0 .. n_folds-1``) of every row; every row is in exactly one fold.

    Styles:
        ``"stratified"``: scikit-learn ``StratifiedGroupKFold(n_folds, shuffle=True,
            random_state=seed)`` over patient ids when ``group_by_patient`` and the table has any
            (rows lacking one are their own group; no patient lands in two folds), else
            ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)``. CoroNet's paper: "randomly
            divided into 4 equal sets" [S4] (not said whether stratified or by patient).
        ``"authors_contiguous"``: CVR-Net's fold preparation [CVR-P12]: per class (in
            ``class_names`` order), shuffle that class's rows, cut into ``n_folds`` contiguous slices
            of ``n // n_folds`` and give the remainder to the FIRST fold (4,273 -> 857/854/854/854/854).
            The authors' ``np.random.shuffle`` had no seed; here it is ``default_rng(seed)``. Patient
            ids are ignored, as in their code (a warning says how many patients span several folds).
    """
    if style not in _STYLES:
        raise ValueError(f"style must be one of {_STYLES}; got {style!r}")
    if int(n_folds) < 2:
        raise SplitError(f"n_folds must be at least 2; got {n_folds}")
    n_folds = int(n_folds)
    if len(table) < n_folds:
        raise SplitError(f"{len(table)} samples cannot fill {n_folds} folds")
    labels = table.labels
    folds = np.full(len(table), -1, dtype=np.int64)
    if style == "authors_contiguous":
        rng = np.random.default_rng(seed)
        for k in range(len(table.class_names)):
            rows = rng.permutation(np.flatnonzero(labels == k))
            base, extra = divmod(len(rows), n_folds)
            sizes = [base + extra] + [base] * (n_folds - 1)
            for f, part in enumerate(np.split(rows, np.cumsum(sizes)[:-1])):
                folds[part] = f
        groups = _groups_or_none(table, group_by_patient)
        if groups is not None:
            spread = pd.Series(folds).groupby(groups).nunique()
            if (spread > 1).any():
                warnings.warn(
                    f"authors_contiguous folds ignore patient ids (as CVR-Net's code did): "
                    f"{int((spread > 1).sum())} patients have images in more than one fold",
                    stacklevel=2,
                )
        return folds

    _check_enough(table, n_folds, f"{n_folds}-fold split")
    groups = _groups_or_none(table, group_by_patient)
    dummy = np.zeros((len(table), 1))
    if groups is not None:
        if len(set(groups)) < n_folds:
            raise SplitError(f"{len(set(groups))} patients cannot fill {n_folds} folds")
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        parts = splitter.split(dummy, labels, groups)
    else:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        parts = splitter.split(dummy, labels)
    for f, (_, test) in enumerate(parts):
        folds[test] = f
    return folds


def holdout_assignments(
    table: SampleTable, fraction: float, seed: int, *, group_by_patient: bool = True
) -> np.ndarray:
    """``True`` for the rows held out (about ``fraction`` of each class), ``False`` for the rest.

    Without patient ids (or with ``group_by_patient=False``): scikit-learn
    ``StratifiedShuffleSplit(test_size=fraction, random_state=seed)``. With patient ids: patients are
    visited in a ``default_rng(seed)`` order and a patient's images are held out whenever that
    brings the held-out per-class counts closer to ``round(fraction * class count)`` (rows without a
    patient id are their own patient), so no patient is on both sides and classes stay close to
    ``fraction``.
    """
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise SplitError(f"holdout fraction must be in (0, 1); got {fraction}")
    labels = table.labels
    groups = _groups_or_none(table, group_by_patient)
    held = np.zeros(len(table), dtype=bool)
    if groups is None:
        _check_enough(table, 2, "holdout split")
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, test = next(splitter.split(np.zeros((len(table), 1)), labels))
        held[test] = True
        return held
    n_classes = len(table.class_names)
    target = np.round(fraction * np.bincount(labels, minlength=n_classes))
    codes, uniques = pd.factorize(pd.Series(groups))
    per_group = np.zeros((len(uniques), n_classes))
    np.add.at(per_group, (codes, labels), 1)
    current = np.zeros(n_classes)
    chosen = np.zeros(len(uniques), dtype=bool)
    for g in np.random.default_rng(seed).permutation(len(uniques)):
        after = current + per_group[g]
        if np.abs(after - target).sum() < np.abs(current - target).sum():
            current = after
            chosen[g] = True
    held[chosen[codes]] = True
    return held


def write_split_csv(path, table: SampleTable, fold_ids) -> None:
    """Write ``sample_id,label,patient_id,fold`` for every row, atomically.

    ``fold_ids`` is one integer per row (a boolean holdout mask is written as 1 = held out, 0 = kept).
    Missing patient ids are written as empty cells.
    """
    folds = np.asarray(fold_ids)
    if folds.shape != (len(table),):
        raise SplitError(f"{os.fspath(path)}: {folds.shape} fold ids for a table of {len(table)} rows")
    if folds.dtype == bool:
        folds = folds.astype(np.int64)
    elif not np.issubdtype(folds.dtype, np.integer):
        raise SplitError(f"{os.fspath(path)}: fold ids must be integers; got dtype {folds.dtype}")
    out = pd.DataFrame(
        {
            "sample_id": table.frame["sample_id"].astype(str).to_numpy(),
            "label": table.frame["label"].astype(str).to_numpy(),
            "patient_id": table.frame["patient_id"].astype("string").fillna("").to_numpy(dtype=object),
            "fold": folds.astype(np.int64),
        }
    )
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    atomic_write_text(path, buffer.getvalue())


def read_split_csv(path, table: SampleTable) -> np.ndarray:
    """Fold id of every row of ``table``, read from a CSV written by :func:`write_split_csv`.

    The CSV's sample ids must be exactly the table's: a sample missing from the CSV, an extra or a
    repeated one in it, a different label or a non-integer fold is a :class:`SplitError` naming the
    CSV and the first offending ``sample_id``. Row order in the CSV does not matter.
    """
    path = os.fspath(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing_cols = [c for c in ("sample_id", "fold") if c not in frame.columns]
    if missing_cols:
        raise SplitError(f"{path}: missing columns {missing_cols}; found {list(frame.columns)}")
    ids = frame["sample_id"].to_numpy(dtype=object)
    repeated = frame["sample_id"][frame["sample_id"].duplicated()]
    if len(repeated):
        raise SplitError(f"{path}: sample_id {repeated.iloc[0]!r} appears more than once")
    table_ids = table.frame["sample_id"].astype(str).to_numpy(dtype=object)
    position = {sid: i for i, sid in enumerate(ids)}
    absent = [sid for sid in table_ids if sid not in position]
    if absent:
        raise SplitError(
            f"{path} does not match the table: sample_id {absent[0]!r} of the table is not in the split "
            f"file ({len(absent)} missing in all)"
        )
    table_set = set(table_ids)
    extra = [sid for sid in ids if sid not in table_set]
    if extra:
        raise SplitError(
            f"{path} does not match the table: sample_id {extra[0]!r} of the split file is not in the table "
            f"({len(extra)} extra in all)"
        )
    order = np.array([position[sid] for sid in table_ids], dtype=np.int64)
    if "label" in frame.columns:
        csv_labels = frame["label"].to_numpy(dtype=object)[order]
        table_labels = table.frame["label"].astype(str).to_numpy(dtype=object)
        differ = np.flatnonzero(csv_labels != table_labels)
        if len(differ):
            i = differ[0]
            raise SplitError(
                f"{path}: sample_id {table_ids[i]!r} has label {csv_labels[i]!r} in the split file but "
                f"{table_labels[i]!r} in the table"
            )
    raw_folds = frame["fold"].to_numpy(dtype=object)[order]
    try:
        return np.array([int(v) for v in raw_folds], dtype=np.int64)
    except ValueError:
        bad = next(i for i, v in enumerate(raw_folds) if not str(v).strip().lstrip("-").isdigit())
        raise SplitError(f"{path}: fold {raw_folds[bad]!r} of sample_id {table_ids[bad]!r} is not an integer") from None
