"""Which images of an evaluation a run's fold has seen: ``covid-cxr evaluate --run RUN --fold K``.

A fold's model was fitted on its ``train`` rows and selected on its ``val`` rows (``splits/fold_k.csv``,
:mod:`cxr_core.protocol.split_files`); scores on those images are not held-out scores.
:func:`seen_by_fold` says how many images of an evaluation's data the fold trained or validated on
(matched by ``sample_id`` and label, the names the run's readers gave them), and
:func:`fold_test_rows` keeps exactly the fold's ``test`` rows (``--split test``).
"""

from __future__ import annotations

import pandas as pd

from cxr_core.protocol.split_files import split_path
from cxr_core.errors import CxrError


def fold_roles(run_dir, fold: int) -> pd.DataFrame:
    """``splits/fold_k.csv`` of a run (``sample_id, label, role``; strings).

    Raises:
        FileNotFoundError: the run has no such split file (naming it).
    """
    path = split_path(run_dir, fold)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; --split test needs the split file of the run's fold {fold}")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _keys(frame: pd.DataFrame) -> pd.Series:
    return frame["sample_id"].astype(str) + "\t" + frame["label"].astype(str)


def seen_by_fold(run_model, table) -> dict[str, int]:
    """``{"train": n, "val": m}``: images of ``table`` that are the fold's training / validation rows."""
    roles = fold_roles(run_model.run_dir, run_model.fold)
    role_of = dict(zip(_keys(roles), roles["role"]))
    found = _keys(table.frame).map(role_of).fillna("")
    return {role: int((found == role).sum()) for role in ("train", "val")}


def seen_warning(run_model, table) -> str | None:
    """The warning ``evaluate`` prints when its data include the fold's training or validation images
    (a run without ``splits/fold_k.csv`` gets a warning saying the check could not be made). For the fold
    ensemble (``run_model.fold`` None) every member counts: an image one fold trained on is not held out."""
    if run_model.fold is None:
        import dataclasses

        counts = {"train": 0, "val": 0}
        for k, _ in run_model.ensemble_weights:
            try:
                seen = seen_by_fold(dataclasses.replace(run_model, fold=k), table)
            except FileNotFoundError:
                return (f"WARNING: {split_path(run_model.run_dir, k)} not found: cannot tell whether the evaluated "
                        f"images trained a fold of the ensemble of {run_model.run_dir}")
            for role, n in seen.items():
                counts[role] = max(counts[role], n)
        if not any(counts.values()):
            return None
        return (f"WARNING: images that trained or validated a fold of the ensemble of {run_model.run_dir} are among "
                f"the {len(table)} images evaluated (up to {counts['train']} training, {counts['val']} validation "
                "images per fold): these scores are not held-out")
    try:
        seen = seen_by_fold(run_model, table)
    except FileNotFoundError:
        return (f"WARNING: {split_path(run_model.run_dir, run_model.fold)} not found: cannot tell whether the "
                f"evaluated images trained fold {run_model.fold}")
    if not any(seen.values()):
        return None
    return (f"WARNING: {seen['train']} training and {seen['val']} validation images of fold {run_model.fold} of "
            f"{run_model.run_dir} are among the {len(table)} images evaluated: these scores are not held-out. "
            f"--split test evaluates exactly the fold's held-out test images")


def fold_test_rows(run_model, table):
    """The rows of ``table`` that are the fold's ``test`` rows, all of them.

    Raises:
        CxrError: some of the fold's test images are not in ``table`` (count and first few named).
    """
    roles = fold_roles(run_model.run_dir, run_model.fold)
    test_keys = set(_keys(roles[roles["role"] == "test"]))
    keys = _keys(table.frame)
    keep = keys.isin(test_keys).to_numpy()
    missing = sorted(test_keys - set(keys))
    if missing:
        first = ", ".join(m.split("\t")[0] for m in missing[:5])
        raise CxrError(f"{len(missing)} of the {len(test_keys)} test images of fold {run_model.fold} of "
                         f"{run_model.run_dir} are not in the data read (first: {first}); give the run's own data "
                         "with --data")
    return table.subset(keep)
