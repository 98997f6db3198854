"""The sample table: which image files make up a dataset, with labels, patient ids and sources.

Every reader (:mod:`cxr_core.data.tables.readers` for class folders and the dispatch,
:mod:`cxr_core.data.tables.manifest`, :mod:`cxr_core.data.tables.covidx`, a family's own readers) returns a
:class:`SampleTable`; the helpers here are what they share.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_core.config.choices import ON_BAD_FILE as ON_ERROR
from cxr_core.errors import CxrError

SAMPLE_COLUMNS = ("sample_id", "path", "label", "label_index", "patient_id", "source")
SKIPPED_COLUMNS = ("path", "reason")


def empty_skipped() -> pd.DataFrame:
    """An empty table of skipped files."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SKIPPED_COLUMNS})


@dataclass(frozen=True)
class SampleTable:
    """A dataset as a table: one row per image, plus the files that were skipped and why.

    ``frame`` has the columns of :data:`SAMPLE_COLUMNS`; ``class_names`` gives the class order
    (``label_index`` indexes it); ``skipped`` lists files left out (columns ``path``, ``reason``), so
    that no sample is ever dropped silently.
    """

    frame: pd.DataFrame
    class_names: tuple[str, ...]
    skipped: pd.DataFrame = field(default_factory=empty_skipped)

    def __post_init__(self) -> None:
        missing = [c for c in SAMPLE_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ValueError(f"SampleTable frame lacks columns {missing}; found {list(self.frame.columns)}")
        object.__setattr__(self, "class_names", tuple(self.class_names))

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, positions) -> "SampleTable":
        """The rows at ``positions`` (integer positions or a boolean mask), same classes and skips."""
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        return SampleTable(
            self.frame.iloc[positions].reset_index(drop=True), self.class_names, self.skipped
        )

    @property
    def labels(self) -> np.ndarray:
        """Integer class index of each row."""
        return self.frame["label_index"].to_numpy(dtype=np.int64)

    @property
    def groups(self) -> np.ndarray | None:
        """Patient id of each row (a row without one is its own group), or ``None`` when no row has one."""
        ids = self.frame["patient_id"]
        if ids.isna().all():
            return None
        out = ids.astype("string").to_numpy(dtype=object)
        for i in np.flatnonzero(ids.isna().to_numpy()):
            out[i] = f"<row {i}>"  # its own group, never merged with others
        return out.astype(str).astype(object)

    def class_counts(self) -> pd.Series:
        """Number of rows per class, in class order (zeros included)."""
        counts = self.frame["label"].value_counts()
        return pd.Series([int(counts.get(c, 0)) for c in self.class_names], index=list(self.class_names))

    def with_skipped(self, rows: list[tuple[str, str]]) -> "SampleTable":
        """This table with ``rows`` (``(path, reason)`` pairs) appended to ``skipped``."""
        if not rows:
            return self
        extra = pd.DataFrame(rows, columns=list(SKIPPED_COLUMNS), dtype="object")
        skipped = extra if self.skipped.empty else pd.concat([self.skipped, extra], ignore_index=True)
        return SampleTable(self.frame, self.class_names, skipped)


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


class SampleError(CxrError):
    """A dataset file or row that does not fit what the reader expects (message names it)."""


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}; got {on_error!r}")


def escaping_name(name: str) -> str | None:
    """Why a file name taken from a split file, manifest or source metadata could leave its folder,
    or None when it cannot: an absolute path (``/x``, ``C:\\x``, ``\\\\server``) or a ``..`` part."""
    text = str(name).replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return "absolute path"
    if ".." in text.split("/"):
        return "'..' in the path"
    return None


def missing_text(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def relative_sample_id(path: str, root: str) -> str:
    """Posix path of ``path`` relative to ``root``; the absolute posix path when outside ``root``."""
    rel = os.path.relpath(path, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Path(path).as_posix()
    return Path(rel).as_posix()


def resolve_class_names(class_names, found_labels, where: str) -> tuple[str, ...]:
    if class_names is None:
        names = tuple(sorted(set(found_labels)))
        if not names:
            raise SampleError(f"{where}: no labels found, so no class names can be inferred")
        return names
    names = tuple(str(c) for c in class_names)
    if len(set(names)) != len(names):
        raise SampleError(f"class_names has repeated entries: {list(names)}")
    if not names:
        raise SampleError("class_names is empty")
    return names


def label_hint(label: str, class_names: tuple[str, ...]) -> str:
    near = [c for c in class_names if c.lower() == label.lower()]
    return f" (labels are matched case-sensitively; did you mean {near[0]!r}?)" if near else ""


def table_from_rows(
    rows: list[dict], class_names: tuple[str, ...], skipped: list[tuple[str, str]] = ()
) -> SampleTable:
    """Rows of ``sample_id, path, label[, patient_id, source]`` -> :class:`SampleTable`.

    For readers of other layouts (e.g. :func:`cvrnet_tf.tasks.read_kermany`); ``skipped`` is a list of
    ``(path, reason)``. Blank patient ids and sources become ``<NA>``.
    """
    index = {c: i for i, c in enumerate(class_names)}
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series([r["sample_id"] for r in rows], dtype="string"),
            "path": pd.Series([r["path"] for r in rows], dtype="string"),
            "label": pd.Series([r["label"] for r in rows], dtype="string"),
            "label_index": pd.Series([index[r["label"]] for r in rows], dtype="int64"),
            "patient_id": pd.Series(
                [None if missing_text(r.get("patient_id")) else str(r["patient_id"]).strip() for r in rows],
                dtype="string",
            ),
            "source": pd.Series(
                [None if missing_text(r.get("source")) else str(r["source"]).strip() for r in rows],
                dtype="string",
            ),
        }
    )
    dup = frame["sample_id"].duplicated(keep=False)
    if dup.any():  # readers check first; this guards against a reader bug
        raise SampleError(f"sample_id not unique: {frame['sample_id'][dup].iloc[0]!r}")
    table = SampleTable(frame, class_names)
    return table.with_skipped(skipped)


#: How many problems an error message lists before it gives only the count.
LISTED_PROBLEMS = 20


class Problems:
    """Raise, or collect ``(path, reason)`` rows, depending on ``on_error``.

    With ``collect=True`` and ``on_error="raise"`` the problems are gathered and :meth:`raise_collected`
    raises one :class:`SampleError` listing the first :data:`LISTED_PROBLEMS` and the count, so a user
    sees every missing file at once, not only the first. A reader using ``collect`` must call
    :meth:`raise_collected` before it returns.
    """

    def __init__(self, on_error: str, *, collect: bool = False) -> None:
        check_on_error(on_error)
        self.on_error = on_error
        self.collect = collect
        self.rows: list[tuple[str, str]] = []
        self.messages: list[str] = []

    def __call__(self, path: str, reason: str, message: str) -> None:
        if self.on_error == "raise":
            if not self.collect:
                raise SampleError(message)
            self.messages.append(message)
            return
        self.rows.append((str(path), reason))

    def raise_collected(self, what: str) -> None:
        """Raise the gathered problems of ``what`` (a file or folder name), if any."""
        if self.messages:
            raise SampleError(problem_listing(self.messages, what))


def problem_listing(messages: list[str], what: str) -> str:
    """``"<what>: N problem(s) (first 20 listed; ...): m1; m2 ..."`` plus how to skip them."""
    n = len(messages)
    shown = "\n  ".join(messages[:LISTED_PROBLEMS])
    more = f"\n  ... and {n - LISTED_PROBLEMS} more" if n > LISTED_PROBLEMS else ""
    return (f"{what}: {n} problem(s){' (first %d listed)' % LISTED_PROBLEMS if n > LISTED_PROBLEMS else ''}:\n  "
            f"{shown}{more}\n{SKIP_HINT}")


#: How to leave bad rows out instead, in the terms of every front end.
SKIP_HINT = ("To leave such rows out (each listed with its reason in the run's skipped.csv), set "
             "data.on_bad_file: skip (command line: --set data.on_bad_file=skip; predict/evaluate/explain: --skip-bad).")


def remap_labels(table: SampleTable, mapping: dict[str, str | None], class_names) -> SampleTable:
    """Relabel ``table`` with ``mapping`` onto the classes ``class_names`` (in that order).

    Example, cxr4-mini 4 classes -> COVIDx 3 classes: ``{"pneumonia_bacterial": "pneumonia",
    "pneumonia_viral": "pneumonia", "covid": "COVID-19"}`` with ``class_names=("normal", "pneumonia",
    "COVID-19")``. A label that is already one of ``class_names`` keeps itself when not in
    ``mapping``; any other unmapped label is an error naming it. Mapping a label to ``None`` drops its
    rows (listed in ``skipped`` with reason ``"label <x> dropped by the label map"``).
    """
    names = resolve_class_names(class_names, (), "remap_labels")
    bad_targets = sorted({str(v) for v in mapping.values() if v is not None and v not in names})
    if bad_targets:
        raise SampleError(f"data.label_map targets {bad_targets} are not in data.class_names {list(names)}: map to "
                          f"one of those, or name the classes (--set data.class_names=[...])")
    labels = table.frame["label"].astype(str)
    unmapped = sorted({lab for lab in labels.unique() if lab not in mapping and lab not in names})
    if unmapped:
        raise SampleError(
            f"label(s) {unmapped} have no entry in data.label_map {mapping} and are not in data.class_names "
            f"{list(names)}: map each (--set data.label_map.{unmapped[0]}=CLASS), or drop its images "
            f"(--set data.label_map.{unmapped[0]}=null)"
        )
    new = labels.map(lambda lab: mapping[lab] if lab in mapping else lab)
    keep = new.notna().to_numpy()
    frame = table.frame.copy()
    frame["label"] = pd.Series(new, dtype="string")
    index = {c: i for i, c in enumerate(names)}
    frame = frame[keep].reset_index(drop=True)
    frame["label_index"] = frame["label"].map(index).astype("int64")
    dropped = [(p, f"label {lab!r} dropped by the label map")
               for p, lab in zip(table.frame["path"][~keep], labels[~keep])]
    return SampleTable(frame, names, table.skipped).with_skipped(dropped)


def require_every_class(table: SampleTable, what: str, counts_before_checks: pd.Series | None = None) -> None:
    """Stop when a class of ``table`` has no rows: no model is trained, and no macro metric is
    reported, over a class without samples.

    ``what``: the data in the user's terms (``training data (--data X)``, ``test data (--test-data Y)``).
    ``counts_before_checks``: rows per class before the image check, to say how many of the class's
    files ``data.on_bad_file: skip`` left out.

    Raises:
        SampleError: naming each empty class, how many of its files were skipped, and where the
            skipped files are listed.
    """
    counts = table.class_counts()
    empty = [c for c in table.class_names if counts[c] == 0]
    if not empty:
        return
    parts = []
    for c in empty:
        lost = 0 if counts_before_checks is None else int(counts_before_checks.get(c, 0))
        parts.append(f"class {c!r} has no images" + (
            f" left: all {lost} of its files were skipped as undecodable (data.on_bad_file: skip)" if lost else ""))
    n_skipped = len(table.skipped)
    raise SampleError(
        f"{what}: " + "; ".join(parts)
        + (f". {n_skipped} file(s) were skipped in all, each with its reason (skipped.csv of the run, "
           "or SKIPPED lines); fix or replace them" if n_skipped else "")
        + f". Every class of {list(table.class_names)} needs images; drop a class with data.class_names / "
        "data.label_map (command line: --set data.class_names=[...])"
    )
