"""Splits of a :class:`~cxr_core.data.tables.sample_table.SampleTable`: undersampling, k-fold, holdout.

Everything random is seeded with ``np.random.default_rng(seed)`` (or scikit-learn's
``random_state=seed``), so the same table and seed always give the same split. The holdout style
``keras_validation_split`` is not random at all: it is Keras 2's ``validation_split`` [CN].
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, StratifiedShuffleSplit

from cxr_core.data.tables.sample_table import SampleTable
from cxr_core.errors import CxrError


_STYLES = ("stratified", "authors_contiguous")
#: Styles of :func:`holdout_assignments`.
HOLDOUT_STYLES = ("stratified", "keras_validation_split")


class SplitError(CxrError):
    """A split that cannot be made or a split file that does not fit its table."""


def undersample(table: SampleTable, counts, seed: int) -> SampleTable:
    """Randomly undersample classes to fixed sizes, keeping the table's row order among kept rows.

    CoroNet "random under-sampling of majority classes" to Table I (310 normal, 330 bacterial,
    327 viral, 284 COVID-19) [S4]: the counts are the preset's ``data.undersample``
    (``coronet_tf.presets.TABLE_I_COUNTS``, with the authors' folder names [CN]).

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
            raise SplitError(f"data.undersample: class {c!r} requested {n} samples but the data has only {have[c]}; "
                             f"lower it (--set data.undersample.{c}={have[c]}) or keep every image "
                             "(--set data.undersample=null); `data build --counts all` builds the whole pool")
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
    strata: np.ndarray | None = None,
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
            ``strata`` (one string per row, :func:`fold_strata`): each class is cut per stratum instead,
            and the parts joined, as the authors folded each source folder and merged the folds.
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
        strata = np.zeros(len(table), dtype=object) if strata is None else np.asarray(strata, dtype=object)
        if len(strata) != len(table):
            raise SplitError(f"strata: {len(strata)} values for {len(table)} rows")
        for k in range(len(table.class_names)):
            for stratum in sorted(set(strata[labels == k]), key=str):
                rows = rng.permutation(np.flatnonzero((labels == k) & (strata == stratum)))
                base, extra = divmod(len(rows), n_folds)
                sizes = [base + extra] + [base] * (n_folds - 1)
                for f, part in enumerate(np.split(rows, np.cumsum(sizes)[:-1])):
                    folds[part] = f
        groups = _groups_or_none(table, group_by_patient)
        if groups is not None:
            spread = pd.Series(folds).groupby(groups).nunique()
            if (spread > 1).any():
                warnings.warn(
                    f"authors_contiguous folds ignore patient ids (as the authors' code did): "
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


def fold_strata(table: SampleTable, patterns) -> np.ndarray | None:
    """Sub-class of every row for :func:`kfold_assignments`'s ``strata``: the value of the first of
    ``patterns`` (``{regex: name}``, ``protocol.fold_strata``) that the row's file name matches
    (``re.search``), else ``""``; ``None`` when ``patterns`` is empty. ValueError names a bad regex."""
    import re

    if not patterns:
        return None
    compiled = []
    for regex, name in patterns.items():
        try:
            compiled.append((re.compile(regex), str(name)))
        except re.error as err:
            raise CxrError(f"protocol.fold_strata: {regex!r} is not a regular expression ({err})") from None
    names = [os.path.basename(p) for p in table.frame["path"].astype(str)]
    return np.array([next((n for rx, n in compiled if rx.search(f)), "") for f in names], dtype=object)


def keras_validation_split(table: SampleTable, fraction: float) -> np.ndarray:
    """``True`` for the rows Keras 2's ``validation_split=fraction`` puts in ``subset='validation'``.

    keras-preprocessing's ``DirectoryIterator`` lists each class folder's files in sorted order
    (sub-folders by ``os.walk`` path, files by name, both sorted) and keeps
    ``files[int(start * n):int(stop * n)]`` with ``(start, stop) = (0, fraction)`` for validation and
    ``(fraction, 1)`` for training, ``n`` the class's file count (``_list_valid_filenames_in_directory``).
    So the first ``int(fraction * n)`` files of every class (truncated, not rounded) validate, the rest
    train: deterministic, no seed, no patient grouping [CN] (CoroNet's 1,396 train-folder images gave
    1,119 / 277 [CN-old]).

    The order here is the path order Keras uses: per class, paths sorted as ``os.walk`` visits them
    (:func:`keras_file_order`). ``fraction`` must lie strictly between 0 and 1 (Keras' own check).
    """
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise SplitError(f"validation_split must be strictly between 0 and 1; got {fraction}")
    held = np.zeros(len(table), dtype=bool)
    labels = table.labels
    paths = table.frame["path"].astype(str).to_numpy()
    for k in range(len(table.class_names)):
        rows = np.flatnonzero(labels == k)
        ordered = rows[keras_file_order(paths[rows])]
        held[ordered[: int(fraction * len(ordered))]] = True
    return held


def keras_file_order(paths) -> np.ndarray:
    """Positions that sort ``paths`` of one class folder as keras-preprocessing lists them.

    ``_iter_valid_files`` walks ``sorted(os.walk(folder), key=root)`` and, in each directory,
    ``sorted(files)``: the key is (directory, file name) compared as strings, which differs from a plain
    path sort when a sub-folder name sorts between file names.
    """
    keys = [(os.path.dirname(p), os.path.basename(p)) for p in paths]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def holdout_assignments(
    table: SampleTable, fraction: float, seed: int, *, group_by_patient: bool = True, style: str = "stratified"
) -> np.ndarray:
    """``True`` for the rows held out (about ``fraction`` of each class), ``False`` for the rest.

    ``style="keras_validation_split"``: :func:`keras_validation_split` (Keras 2's deterministic first
    ``int(fraction * n)`` files of each class [CN]); ``seed`` and ``group_by_patient`` are not used.

    ``style="stratified"`` (default), without patient ids (or with ``group_by_patient=False``): scikit-learn
    ``StratifiedShuffleSplit(test_size=fraction, random_state=seed)``. With patient ids: patients are
    visited in a ``default_rng(seed)`` order and a patient's images are held out whenever that
    brings the held-out per-class counts closer to ``round(fraction * class count)`` (rows without a
    patient id are their own patient), so no patient is on both sides and classes stay close to
    ``fraction``.
    """
    if style not in HOLDOUT_STYLES:
        raise ValueError(f"holdout style must be one of {HOLDOUT_STYLES}; got {style!r}")
    if style == "keras_validation_split":
        return keras_validation_split(table, fraction)
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
