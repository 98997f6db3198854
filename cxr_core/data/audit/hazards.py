"""Cheap data-hazard checks for every ``cv`` / ``train`` run: duplicates, patient overlap, class x source.

:func:`cheap_checks` takes a run's sample table and, per fold, each row's role (``train`` / ``val`` /
``test`` / ``unused``, as in ``splits/fold_k.csv``) and returns a :class:`HazardReport` with a
Markdown section ("Data hazards") and one-line warnings. It hashes file bytes (SHA-256), so it finds
byte-identical copies only; re-encoded or resized copies need the full audit
(``covid-cxr data audit``, :mod:`cxr_core.data.audit.checks`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_core.atomic_files import file_sha256
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)
SIDES = ("train", "val", "test")


def class_source_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Images per class (rows) and source (columns); a missing source is ``(unknown)``."""
    src = frame["source"].astype("string").fillna("(unknown)")
    return pd.crosstab(frame["label"].astype(str), src.astype(str)).sort_index()


def single_source_classes(table: pd.DataFrame) -> dict[str, str]:
    """``{class: source}`` for classes whose images all come from one known source while some other
    class has images from a different source (a source shortcut: the model can learn the hospital)."""
    known = table.drop(columns=["(unknown)"], errors="ignore")
    if known.shape[1] == 0 or len(table) < 2:
        return {}
    out = {}
    for cls, row in known.iterrows():
        present = row[row > 0].index.tolist()
        if len(present) == 1 and row.sum() == table.loc[cls].sum():
            others = known.drop(index=cls)
            if (others.drop(columns=present).to_numpy().sum() > 0):
                out[str(cls)] = str(present[0])
    return out


@dataclass
class HazardReport:
    """Result of :func:`cheap_checks`.

    ``duplicate_groups``: lists of sample ids with identical file bytes; ``leaks``: one row per fold,
    kind (``duplicate`` / ``patient``), key (hash or patient id), the sides it spans and its sample
    ids; ``class_source``: images per class and source; ``single_source``: flagged classes.
    """

    duplicate_groups: list[list[str]] = field(default_factory=list)
    leaks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["fold", "kind", "key", "sides", "samples"]))
    class_source: pd.DataFrame = field(default_factory=pd.DataFrame)
    single_source: dict[str, str] = field(default_factory=dict)
    has_patient_ids: bool = False
    hash_origin: str = "SHA-256 of the file bytes"
    n_samples: int = 0
    n_without_patient: int = 0
    splits_checked: bool = False
    mixed_labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["kind", "key", "labels", "samples"]))
    """Byte-identical groups and patients whose samples carry more than one label (one row each)."""

    @property
    def warnings(self) -> list[str]:
        """One line per hazard that a run must print whatever its preset."""
        out = []
        for kind, what in (("duplicate", "identical files"), ("patient", "patients")):
            part = self.leaks[self.leaks["kind"] == kind]
            if len(part):
                folds = ", ".join(str(f) for f in sorted(part["fold"].unique(), key=str))
                out.append(f"{len(part)} cases of {what} on both sides of a split (folds {folds})")
        if self.splits_checked and self.has_patient_ids and self.n_without_patient:
            out.append(f"{self.n_without_patient} of {self.n_samples} samples have no patient id: patient "
                       "overlap is not checked for them")
        same_file = self.mixed_labels[self.mixed_labels["kind"] == "duplicate"]
        if len(same_file):
            out.append(f"{len(same_file)} groups of identical files carry two labels: "
                       + "; ".join(f"{', '.join(r.samples)} ({' / '.join(r.labels)})"
                                   for r in same_file.head(3).itertuples(index=False))
                       + (f" (+{len(same_file) - 3} more)" if len(same_file) > 3 else ""))
        for cls, src in self.single_source.items():
            out.append(f"class {cls!r} comes only from source {src!r} (source shortcut risk)")
        return out

    def patient_check_line(self) -> str:
        """What the patient-overlap check covered, in words: never "no patient on both sides" unless every
        sample had a patient id and the splits were checked."""
        if not self.splits_checked:
            return "- patient overlap: not checked (no splits were given)"
        if not self.has_patient_ids:
            return (f"- patient overlap: NOT CHECKED: none of the {self.n_samples} samples has a patient id, so "
                    "images of one patient may be on both sides of a split unseen")
        if self.n_without_patient:
            return (f"- patient overlap: checked for the {self.n_samples - self.n_without_patient} of "
                    f"{self.n_samples} samples with a patient id; {self.n_without_patient} samples have none, "
                    "so a patient among them may be on both sides of a split unseen")
        return f"- patient overlap: checked (all {self.n_samples} samples have a patient id)"

    def markdown(self) -> str:
        """The "Data hazards" section of a report."""
        lines = ["## Data hazards", "",
                 f"Cheap checks of this run's own splits ({self.hash_origin}; byte-identical copies only: "
                 "re-encoded, resized or near-identical copies need `covid-cxr data audit`).", ""]
        n_dup = sum(len(g) for g in self.duplicate_groups)
        lines.append(f"- byte-identical files: {len(self.duplicate_groups)} groups ({n_dup} images)"
                     if self.duplicate_groups else "- byte-identical files: none")
        lines.append(self.patient_check_line())
        for w in self.warnings:
            lines.append(f"- WARNING: {w}")
        patients = self.mixed_labels[self.mixed_labels["kind"] == "patient"]
        if len(patients):
            lines.append(f"- {len(patients)} patients have images under two labels: "
                         + "; ".join(f"{r.key} ({' / '.join(r.labels)})" for r in patients.head(20).itertuples(index=False))
                         + (f" (+{len(patients) - 20} more)" if len(patients) > 20 else ""))
        complete = self.splits_checked and self.has_patient_ids and not self.n_without_patient
        if self.leaks.empty and complete:
            lines.append("- no duplicate file or patient on both sides of any split")
        elif self.leaks.empty and self.splits_checked:
            lines.append("- no byte-identical file on both sides of any split; patients: see the patient "
                         "overlap line above")
        elif not self.leaks.empty:
            lines += ["", "| fold | kind | key | sides | samples |", "|---|---|---|---|---|"]
            for r in self.leaks.head(50).itertuples(index=False):
                samples = ", ".join(r.samples[:4]) + (f" (+{len(r.samples) - 4})" if len(r.samples) > 4 else "")
                lines.append(f"| {r.fold} | {r.kind} | {r.key} | {r.sides} | {samples} |")
            if len(self.leaks) > 50:
                lines.append(f"| ... | {len(self.leaks) - 50} more rows | | | |")
        if not self.class_source.empty:
            lines += ["", "Images per class and source:", ""]
            cols = list(self.class_source.columns)
            lines += ["| class | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            for cls, row in self.class_source.iterrows():
                lines.append(f"| {cls} | " + " | ".join(str(int(v)) for v in row) + " |")
        return "\n".join(lines) + "\n"


def leaks_across_sides(keys: Sequence[str | None], ids: np.ndarray, roles: np.ndarray, fold, kind: str) -> list[dict]:
    """The keys (a duplicate group, a patient id; None: no key) whose rows lie on more than one side
    (``train``/``val``/``test``) of ``roles``, one row per key: ``fold``, ``kind``, ``key``, ``sides``
    (e.g. ``"train+test"``, in that order) and ``samples`` (the ids of all the key's rows). Rows whose
    role is not a side (e.g. ``unused``) are ignored. ``keys``, ``ids`` and ``roles`` are parallel."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if k is not None and roles[i] in SIDES:
            by_key[k].append(i)
    rows = []
    for k, idx in by_key.items():
        sides = sorted({roles[i] for i in idx}, key=SIDES.index)
        if len(sides) > 1:
            rows.append({"fold": fold, "kind": kind, "key": k, "sides": "+".join(sides),
                         "samples": [str(ids[i]) for i in idx]})
    return rows


def mixed_label_groups(keys: Sequence[str | None], ids, labels: Sequence[str], kind: str) -> list[dict]:
    """The keys (a file hash, a patient id; None: no key) whose rows carry more than one label, one row
    per key: ``kind``, ``key``, ``labels`` (sorted) and ``samples`` (the key's sample ids, table order)."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if k is not None:
            by_key[k].append(i)
    return [{"kind": kind, "key": k, "labels": sorted({labels[i] for i in idx}), "samples": [str(ids[i]) for i in idx]}
            for k, idx in by_key.items() if len({labels[i] for i in idx}) > 1]


def cheap_checks(table, roles_by_fold: Mapping[object, Sequence[str]] | None = None, *,
                 hashes: Sequence[str] | None = None, num_threads: int = 4) -> HazardReport:
    """Exact duplicates (file SHA-256), patients and duplicates across each fold's sides, class x source.

    Args:
        table: a :class:`cxr_core.data.tables.sample_table.SampleTable` (columns ``sample_id, path, label,
            patient_id, source``).
        roles_by_fold: fold -> one role per row (``train``, ``val``, ``test``, ``unused``); None checks
            the whole table only (duplicates and class x source).
        hashes: precomputed SHA-256 per row (skips reading the files).
    """
    frame = table.frame
    paths = frame["path"].astype(str).tolist()
    if hashes is None:
        with ThreadPoolExecutor(max_workers=num_threads) as pool:
            hashes = list(pool.map(file_sha256, paths))
    ids = frame["sample_id"].astype(str).to_numpy()
    groups: dict[str, list[str]] = defaultdict(list)
    for h, sid in zip(hashes, ids):
        groups[h].append(sid)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    patients = [None if pd.isna(p) else str(p) for p in frame["patient_id"]]
    rows: list[dict] = []
    for fold, roles in (roles_by_fold or {}).items():
        roles = np.asarray(roles, dtype=object)
        if roles.shape != (len(frame),):
            raise ValueError(f"fold {fold}: {roles.shape[0]} roles for {len(frame)} samples")
        rows += leaks_across_sides(list(hashes), ids, roles, fold, "duplicate")
        rows += leaks_across_sides(patients, ids, roles, fold, "patient")
    leaks = pd.DataFrame(rows, columns=["fold", "kind", "key", "sides", "samples"])
    cs = class_source_table(frame)
    labels = frame["label"].astype(str).tolist()
    mixed = mixed_label_groups(list(hashes), ids, labels, "duplicate") + mixed_label_groups(patients, ids, labels, "patient")
    report = HazardReport(dup_groups, leaks, cs, single_source_classes(cs), any(p is not None for p in patients),
                          n_samples=len(frame), n_without_patient=sum(p is None for p in patients),
                          splits_checked=bool(roles_by_fold),
                          mixed_labels=pd.DataFrame(mixed, columns=["kind", "key", "labels", "samples"]))
    for w in report.warnings:
        log.warning("data hazard: %s", w)
    return report


# ------------------------------------------------------------------------------ at the start of a run
HAZARDS_FILE = "data_hazards.md"


def roles_of_split(n_rows: int, train, val, test) -> np.ndarray:
    """One role per row (``train`` / ``val`` / ``test`` / ``unused``) from a fold's positions, as in
    ``splits/fold_k.csv`` (validation that is the test fold itself counts as ``test``)."""
    role = np.array(["unused"] * n_rows, dtype=object)
    role[np.asarray(train, dtype=np.int64)] = "train"
    if val is not None and val is not test:
        role[np.asarray(val, dtype=np.int64)] = "val"
    role[np.asarray(test, dtype=np.int64)] = "test"
    return role


def manifest_hashes(frame: pd.DataFrame, sources: Sequence[str | None]) -> dict[str, str]:
    """``{absolute path: sha256}`` from the ``sha256`` column of each source's ``MANIFEST.csv``
    (``covid-cxr data build`` writes one; a source that is a CSV with that column counts too)."""
    import os

    found: dict[str, str] = {}
    for src in sources:
        if not src:
            continue
        manifest = os.path.join(src, "MANIFEST.csv") if os.path.isdir(src) else src
        if not (os.path.isfile(manifest) and manifest.lower().endswith(".csv")):
            continue
        try:
            m = pd.read_csv(manifest, dtype=str, keep_default_na=False, usecols=lambda c: c in ("path", "sha256"))
        except (ValueError, OSError, pd.errors.ParserError):
            continue
        if not {"path", "sha256"} <= set(m.columns):
            continue
        base = os.path.dirname(os.path.abspath(manifest))
        for rel, digest in zip(m["path"], m["sha256"]):
            if rel and len(digest) == 64:
                found[os.path.normpath(os.path.join(base, rel))] = digest.lower()
    return found


def run_hazard_checks(table, splits, run_dir, sources: Sequence[str | None] = ()) -> HazardReport:
    """The cheap checks of a ``cv`` / ``train`` run on its own splits, written to ``run_dir/data_hazards.md``.

    ``splits``: objects with ``fold``, ``train``, ``val``, ``test`` (positions into ``table``,
    :class:`cxr_core.protocol.split_files.Split`). File hashes are the SHA-256 of the file bytes, taken from
    the ``sha256`` column of a ``MANIFEST.csv`` of ``sources`` where it lists the file, else computed;
    the report says how many came from where. Decoded-pixel and near-duplicate checks are the
    audit's (``covid-cxr data audit``). Duplicates or patients on both sides of a split are logged as
    WARNINGs with their counts, whatever the preset.
    """
    from pathlib import Path

    from cxr_core.atomic_files import atomic_write_text

    frame = table.frame
    known = manifest_hashes(frame, sources)
    paths = frame["path"].astype(str).tolist()
    missing = [p for p in paths if p not in known]
    with ThreadPoolExecutor(max_workers=4) as pool:
        known.update(zip(missing, pool.map(file_sha256, missing)))
    roles = {s.fold: roles_of_split(len(frame), s.train, s.val, s.test) for s in splits}
    report = cheap_checks(table, roles, hashes=[known[p] for p in paths])
    report.hash_origin = (f"SHA-256 of the file bytes: {len(paths) - len(missing)} taken from MANIFEST.csv, "
                          f"{len(missing)} computed")
    atomic_write_text(Path(run_dir) / HAZARDS_FILE, report.markdown())
    return report


def require_patient_ids(protocol, table, where: str = "protocol.group_by_patient") -> None:
    """Stop a run whose config promises patient-disjoint splits (``protocol.group_by_patient: true``)
    when some or all rows carry no patient id, instead of silently splitting those image by image.

    Only a protocol that draws a split is concerned (k-fold, holdout, or an ``inner_split``
    validation part); a fixed split with its test fold as validation draws nothing. With
    ``protocol.blank_patient_ids: own_group`` rows without an id (when some rows have one) become
    their own group, with a WARNING naming the count.

    Raises:
        ValueError: no patient id at all (naming the option and the ways to give ids), or some blank
            ids (naming the count, the first rows and the option that accepts them).
    """
    draws = protocol.kind in ("kfold", "holdout") or protocol.validation == "inner_split"
    if protocol.group_by_patient is not True or not draws:
        return
    blank = table.frame["patient_id"].isna().to_numpy()
    if not blank.any():
        return
    if blank.all():
        raise CxrError(
            f"{where} is true (patient-disjoint splits, e.g. a leak_free preset), but none of the {len(table)} "
            "samples has a patient id, so the split could only be drawn image by image. Give data that carry "
            "patient ids: a CSV manifest with a patient_id column (covid-cxr data build writes DIR/MANIFEST.csv), "
            "a class-folder tree with such a MANIFEST.csv beside its folders, or a data.format whose reader derives "
            "them from the file names (a model family's reader, e.g. for folders of personN_bacteria_M / IM-xxxx "
            "files); or accept image-level splits with --set protocol.group_by_patient=false"
        )
    n = int(blank.sum())
    rows = np.flatnonzero(blank)
    first = ", ".join(str(table.frame["sample_id"].iloc[i]) for i in rows[:5]) + (" ..." if n > 5 else "")
    if getattr(protocol, "blank_patient_ids", "error") == "own_group":
        log.warning("%s: %d of %d samples have no patient id; each is its own group (protocol.blank_patient_ids: "
                    "own_group), so a patient among them may still be on both sides of a split (first: %s)",
                    where, n, len(table), first)
        return
    raise CxrError(
        f"{where} is true (patient-disjoint splits), but {n} of the {len(table)} samples have no patient id "
        f"(first: {first}); a patient among them could land on both sides of a split. Fill their patient_id, "
        "or make each its own group with --set protocol.blank_patient_ids=own_group (a WARNING gives the count), "
        "or accept image-level splits with --set protocol.group_by_patient=false"
    )
