"""``covid-cxr data audit``: duplicates, near-duplicates, leaks across splits and source shortcuts.

What :func:`audit_dataset` checks and writes into ``out`` (``audit.md``, CSVs, one PNG montage per
flagged group):

- exact duplicates: the same decoded pixels, whatever the file name or format (a gray PNG and the
  same picture as a 3-channel PNG with equal channels match; alpha is dropped, as the pipeline does);
- the same radiograph under another crop, border, scale, mirror or JPEG quality (``kind`` near / crop /
  mirror): perceptual-hash candidates over windows and the mirror, verified by OpenCV keypoints,
  a RANSAC similarity transform and the correlation of the aligned pixels
  (:mod:`cxr_core.data.audit.duplicates`, precision and recall on the real sources in
  benchmarks/RESULTS.md); ``phash`` in images.csv is ``imagehash.phash`` of the whole image;
- the same picture (exact or near) under two labels: an error (``cross_label`` in the CSVs);
- with splits (``splits/fold_k.csv`` of a run, or split CSVs with a ``fold`` or ``role`` column):
  duplicate groups and patients on both sides of any split, per fold;
- class x source table and per-class image properties (size, PIL mode, bit depth, file format): a
  class from a single source, or in which a format / mode / bit depth's share differs from the other
  classes' by :data:`SHARE_GAP` (20 percentage points) or more, is flagged as a shortcut risk;
- files with an EXIF orientation tag other than 1: listed. Keras' ``load_img`` (PIL ``open`` +
  ``convert``) ignores EXIF orientation and so does our pipeline, on purpose: the papers' models saw
  the stored pixel order, and re-orienting would change what is being replicated.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_core.data.decode.dicom import DicomError, is_dicom_path
from cxr_core.data.audit.report import write_audit_outputs
from cxr_core.data.audit.duplicates import CANDIDATE_DISTANCE, gray_of, verified_pairs, window_hashes
from cxr_core.data.audit.hazards import class_source_table, single_source_classes
from cxr_core.errors import CxrError

log = logging.getLogger(__name__)
#: pHash Hamming distance of a candidate pair (stage 1 of :mod:`cxr_core.data.audit.duplicates`)
NEAR_THRESHOLD = CANDIDATE_DISTANCE
#: a class is flagged when a format / mode / bit depth's share in it differs by this much from the rest
SHARE_GAP = 0.20
_BITS = {"1": 1, "L": 8, "P": 8, "LA": 8, "RGB": 8, "RGBA": 8, "CMYK": 8, "YCbCr": 8, "I;16": 16,
         "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}


# --------------------------------------------------------------------------------------- per image
def inspect_image(path: str) -> dict:
    """Properties and hashes of one image: width, height, mode, bit_depth, format, exif_orientation,
    pixel_sha256 (of the decoded pixels), phash (64-bit int), window_hashes (uint64 array, see
    :func:`cxr_core.data.audit.duplicates.window_hashes`) or ``error``."""
    import imagehash
    from PIL import Image

    rec = {"width": None, "height": None, "mode": "", "bit_depth": None, "format": "", "exif_orientation": None,
           "pixel_sha256": "", "phash": None, "window_hashes": None, "error": ""}
    try:
        if is_dicom_path(path):
            from cxr_core.data.decode.dicom import read_dicom_uint8

            arr = read_dicom_uint8(path)
            img = Image.fromarray(arr)
            rec.update(format="DICOM", mode=img.mode, bit_depth=8)
        else:
            img = Image.open(path)
            img.load()
            rec.update(format=img.format or "", mode=img.mode, bit_depth=_BITS.get(img.mode))
            orientation = img.getexif().get(0x0112)
            rec["exif_orientation"] = int(orientation) if orientation not in (None, 1) else None
            arr = np.asarray(img.convert("RGB") if img.mode in ("P", "1", "CMYK", "YCbCr", "LA", "RGBA") else img)
    except (OSError, ValueError, DicomError) as exc:
        rec["error"] = f"{type(exc).__name__}: {exc}"
        return rec
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[..., :3]
        if (arr[..., 0] == arr[..., 1]).all() and (arr[..., 0] == arr[..., 2]).all():
            arr = arr[..., 0]
    arr = np.ascontiguousarray(arr)
    digest = hashlib.sha256(repr((arr.shape, arr.dtype.str)).encode())
    digest.update(arr.tobytes())
    rec.update(width=img.size[0], height=img.size[1], pixel_sha256=digest.hexdigest())
    rec["phash"] = int(str(imagehash.phash(img)), 16)
    rec["window_hashes"] = window_hashes(gray_of(arr))
    return rec


def load_gray(path: str) -> np.ndarray:
    """(H, W) uint8 gray pixels of the image at ``path``, decoded as :func:`inspect_image` does."""
    from PIL import Image

    if is_dicom_path(path):
        from cxr_core.data.decode.dicom import read_dicom_uint8

        return gray_of(read_dicom_uint8(path))
    img = Image.open(path)
    img.load()
    return gray_of(np.asarray(img.convert("RGB") if img.mode not in ("L", "I;16", "I;16B", "I;16L", "I") else img))


def image_records(frame: pd.DataFrame, *, num_threads: int = 2) -> pd.DataFrame:
    """``frame`` (sample_id, path, label, patient_id, source) with :func:`inspect_image`'s columns."""
    with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
        recs = list(pool.map(inspect_image, frame["path"].astype(str).tolist()))
    out = frame[["sample_id", "path", "label", "patient_id", "source"]].reset_index(drop=True).copy()
    return pd.concat([out, pd.DataFrame(recs)], axis=1)


# --------------------------------------------------------------------------------------- grouping
def near_pairs(hashes: np.ndarray, threshold: int = 4, chunk: int = 2048) -> np.ndarray:
    """``(i, j, distance)`` rows (i < j) of 64-bit hashes within Hamming ``threshold``."""
    h = np.asarray(hashes, dtype=np.uint64)
    out = []
    for start in range(0, len(h), chunk):
        block = h[start:start + chunk, None] ^ h[None, :]
        dist = np.bitwise_count(block)
        i, j = np.nonzero(dist <= threshold)
        i = i + start
        keep = i < j
        out.append(np.stack([i[keep], j[keep], dist[i[keep] - start, j[keep]]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.int64)


def _components(n: int, pairs) -> list[list[int]]:
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def duplicate_groups(records: pd.DataFrame, threshold: int = NEAR_THRESHOLD, *, num_threads: int = 2,
                     pairs_out: list | None = None) -> pd.DataFrame:
    """One row per member of each duplicate group: group, kind, cross_label, sample_id, label, source,
    patient_id, path.

    Members are joined by the same decoded pixels (``exact``) or by a verified pair of
    :func:`cxr_core.data.audit.duplicates.verified_pairs` (candidates within pHash ``threshold``).
    A group's kind is the strongest change between its members: ``mirror``, else ``crop``, else
    ``near``, else ``exact``. ``pairs_out`` (a list) receives the verified pairs with their evidence.
    """
    ok = records[records["error"] == ""].reset_index(drop=True)
    exact = ok.groupby("pixel_sha256").indices
    pairs = [(int(g[0]), int(k)) for g in exact.values() if len(g) > 1 for k in g[1:]]
    same = {(int(a), int(b)) for g in exact.values() for a in g for b in g if a < b}
    hashes = np.stack(ok["window_hashes"].to_list()) if len(ok) else np.zeros((0, 1), np.uint64)
    paths = ok["path"].astype(str).tolist()
    verified = verified_pairs(hashes, lambda k: load_gray(paths[k]), skip=same, threshold=threshold,
                              num_threads=num_threads,
                              progress=lambda k, n: log.info("verifying candidate pairs: %d of %d", k, n))
    kind_of: dict[int, set] = {}
    for v in verified:
        pairs.append((v["i"], v["j"]))
        kind_of.setdefault(v["i"], set()).add(v["kind"])
        if pairs_out is not None:
            pairs_out.append({"sample_a": ok["sample_id"][v["i"]], "sample_b": ok["sample_id"][v["j"]],
                              **{k: v[k] for k in ("kind", "hash_distance", "inliers", "inlier_share", "correlation", "overlap")}})
    rows = []
    for gid, members in enumerate(sorted(_components(len(ok), pairs), key=lambda g: ok["sample_id"][g[0]])):
        part = ok.iloc[members]
        kinds = set().union(*(kind_of.get(m, set()) for m in members))
        kind = next((k for k in ("mirror", "crop", "near") if k in kinds), "exact")
        cross = part["label"].nunique() > 1
        for r in part.itertuples(index=False):
            rows.append({"group": gid, "kind": kind, "cross_label": cross, "sample_id": r.sample_id, "label": r.label,
                         "source": r.source, "patient_id": r.patient_id, "path": r.path})
    return pd.DataFrame(rows, columns=["group", "kind", "cross_label", "sample_id", "label", "source", "patient_id", "path"])


# --------------------------------------------------------------------------------------- properties
def class_properties(records: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per-class image properties and the shortcut flags (format / mode / bit depth differing)."""
    rows, flags = [], []
    ok = records[records["error"] == ""]
    for cls, part in ok.groupby("label"):
        def share(col):
            counts = part[col].astype(str).value_counts()
            return ", ".join(f"{k} {v / len(part):.0%}" for k, v in counts.items())
        rows.append({"class": cls, "images": len(part), "format": share("format"), "mode": share("mode"),
                     "bit_depth": share("bit_depth"), "width_median": int(part["width"].median()),
                     "height_median": int(part["height"].median()),
                     "width_range": f"{int(part['width'].min())}-{int(part['width'].max())}",
                     "sources": part["source"].astype("string").fillna("(unknown)").nunique()})
    table = pd.DataFrame(rows)
    if ok["label"].nunique() > 1:
        for col in ("format", "mode", "bit_depth"):
            values = ok[col].astype(str)
            for cls in sorted(ok["label"].unique()):
                mine = values[ok["label"] == cls].value_counts(normalize=True)
                rest = values[ok["label"] != cls].value_counts(normalize=True)
                diff = mine.sub(rest, fill_value=0.0)
                top = diff.abs().idxmax()
                if abs(diff[top]) >= SHARE_GAP:
                    flags.append(f"class {cls!r}: {col} {top} in {mine.get(top, 0):.0%} of its images, "
                                 f"{rest.get(top, 0):.0%} of the other classes' (shortcut risk)")
    return table, flags


# --------------------------------------------------------------------------------------- splits
def read_split_roles(splits, sample_ids) -> dict[str, np.ndarray]:
    """fold -> role per sample (``train``/``val``/``test``/``unused``) from a run directory
    (``splits/fold_k.csv`` with a ``role`` column) or CSV file(s) with a ``fold`` column (fold k's
    test side = rows with fold k, the rest train)."""
    path = Path(splits)
    files = sorted((path / "splits").glob("fold_*.csv")) if (path / "splits").is_dir() else (
        sorted(path.glob("*.csv")) if path.is_dir() else [path])
    if not files:
        raise FileNotFoundError(f"--splits {path}: no splits/fold_k.csv or split CSV found")
    index = {s: i for i, s in enumerate(sample_ids)}
    out: dict[str, np.ndarray] = {}
    unmatched = 0
    for f in files:
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        if "sample_id" not in frame.columns or not ({"role", "fold"} & set(frame.columns)):
            raise CxrError(f"{f}: expected columns sample_id and role (or fold); found {list(frame.columns)}")
        pos = frame["sample_id"].map(index)
        unmatched += int(pos.isna().sum())
        frame, pos = frame[pos.notna()], pos[pos.notna()].astype(int).to_numpy()
        if "role" in frame.columns:
            roles = np.array(["unused"] * len(sample_ids), dtype=object)
            roles[pos] = frame["role"].to_numpy()
            out[f.stem.replace("fold_", "")] = roles
        else:
            folds = frame["fold"].to_numpy()
            for k in sorted(set(folds)):
                roles = np.array(["unused"] * len(sample_ids), dtype=object)
                roles[pos] = np.where(folds == k, "test", "train")
                out[f"{f.stem}:{k}"] = roles
    if unmatched:
        log.warning("--splits: %d sample ids not found in the audited data", unmatched)
    return out


def split_leaks(records: pd.DataFrame, groups: pd.DataFrame, roles_by_fold) -> pd.DataFrame:
    """Duplicate groups (exact or near) and patients on both sides of a split, per fold."""
    from cxr_core.data.audit.hazards import leaks_across_sides

    ids = records["sample_id"].astype(str).to_numpy()
    group_of = dict(zip(groups["sample_id"], groups["group"].astype(str)))
    dup_keys = [group_of.get(s) for s in ids]
    patients = [None if pd.isna(p) or p == "" else str(p) for p in records["patient_id"]]
    rows = []
    for fold, roles in roles_by_fold.items():
        rows += leaks_across_sides(dup_keys, ids, roles, fold, "duplicate")
        rows += leaks_across_sides(patients, ids, roles, fold, "patient")
    return pd.DataFrame(rows, columns=["fold", "kind", "key", "sides", "samples"])


# --------------------------------------------------------------------------------------- entry point
@dataclass
class AuditResult:
    """What :func:`audit_dataset` found (also written to ``out``)."""

    records: pd.DataFrame
    groups: pd.DataFrame
    leaks: pd.DataFrame
    class_source: pd.DataFrame
    properties: pd.DataFrame
    flags: list[str]
    seconds: float
    #: verified pairs (sample_a, sample_b, kind, hash_distance, inliers, inlier_share, correlation, overlap)
    pairs: pd.DataFrame | None = None

    @property
    def cross_label_groups(self) -> int:
        return int(self.groups.loc[self.groups["cross_label"], "group"].nunique()) if len(self.groups) else 0


def subset_roles(data, sample_ids) -> dict[str, np.ndarray]:
    """``{"subset": role per sample}`` when ``data`` is a folder whose MANIFEST.csv has a ``subset``
    column with both ``train`` and ``test`` (a ``data build covidx`` output: ``train/`` and ``test/``
    are a split, checked without a split file); else ``{}``. Samples in no subset are ``unused``."""
    manifest = Path(data) / "MANIFEST.csv"
    if not manifest.is_file():
        return {}
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    if "subset" not in frame.columns or not {"train", "test"} <= set(frame["subset"]):
        return {}
    subset_of = dict(zip(frame["path"], frame["subset"]))
    roles = np.array([subset_of.get(s, "") for s in sample_ids], dtype=object)
    roles[~np.isin(roles, ["train", "val", "test"])] = "unused"
    return {"subset": roles}


def read_audit_table(data):
    """The samples of ``data``: a folder with MANIFEST.csv (its sources and patient ids), a class
    folder tree, or a manifest / COVIDx split file."""
    from cxr_core.data.tables.manifest import read_manifest_csv
    from cxr_core.data.tables.readers import read_samples

    data = Path(data)
    if data.is_dir() and (data / "MANIFEST.csv").is_file():
        return read_manifest_csv(data / "MANIFEST.csv")
    return read_samples(data)


def audit_dataset(data, out, *, splits=None, threshold: int = NEAR_THRESHOLD, num_threads: int = 2,
                  max_montages: int = 40) -> AuditResult:
    """Audit ``data`` and write ``audit.md``, CSVs and montages into ``out`` (see the module docstring)."""
    import time

    start = time.perf_counter()
    table = read_audit_table(data)
    records = image_records(table.frame, num_threads=num_threads)
    verified: list = []
    groups = duplicate_groups(records, threshold, num_threads=num_threads, pairs_out=verified)
    ids = records["sample_id"].astype(str).tolist()
    roles = read_split_roles(splits, ids) if splits else {}
    if not splits:
        roles = subset_roles(data, ids)
        splits = "MANIFEST.csv subset (train/ vs test/)" if roles else None
    leaks = split_leaks(records, groups, roles)
    cs = class_source_table(records)
    props, flags = class_properties(records)
    flags = [f"class {c!r} comes only from source {s!r} (shortcut risk)" for c, s in single_source_classes(cs).items()] + flags
    result = AuditResult(records, groups, leaks, cs, props, flags, 0.0, pd.DataFrame(verified))
    result.seconds = time.perf_counter() - start
    write_audit_outputs(result, Path(out), data=os.fspath(data), splits=splits, threshold=threshold,
                        max_montages=max_montages, skipped=table.skipped)
    return result
