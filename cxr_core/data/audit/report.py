"""Writing an audit's results: audit.md, CSVs and one PNG montage per flagged group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxr_core.data.decode.dicom import is_dicom_path
from cxr_core.atomic_files import atomic_path, atomic_write_text


def _csv(frame: pd.DataFrame, path: Path, **kwargs) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def _table(frame: pd.DataFrame, index: bool = False) -> list[str]:
    if frame.empty:
        return ["(none)"]
    f = frame.reset_index() if index else frame
    cols = [str(c) for c in f.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in f.itertuples(index=False)]
    return lines


def write_audit_outputs(result, out: Path, *, data: str, splits, threshold: int, max_montages: int,
                        skipped: pd.DataFrame) -> None:
    """Everything :func:`cxr_core.data.audit.checks.audit_dataset` writes into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rec = result.records.drop(columns=["window_hashes"], errors="ignore")
    rec["phash"] = rec["phash"].map(lambda v: "" if pd.isna(v) else f"{int(v):016x}")
    _csv(rec, out / "images.csv", index=False)
    _csv(result.groups, out / "duplicate_groups.csv", index=False)
    pairs = result.pairs if result.pairs is not None and len(result.pairs) else pd.DataFrame(
        columns=["sample_a", "sample_b", "kind", "hash_distance", "inliers", "inlier_share", "correlation", "overlap"])
    _csv(pairs, out / "duplicate_pairs.csv", index=False)
    _csv(result.leaks.assign(samples=result.leaks["samples"].map(lambda s: ";".join(s))), out / "split_leaks.csv", index=False)
    _csv(result.class_source, out / "class_source.csv")
    _csv(result.properties, out / "class_properties.csv", index=False)
    exif = rec[rec["exif_orientation"].notna()][["sample_id", "label", "exif_orientation", "path"]]
    _csv(exif, out / "exif_orientation.csv", index=False)
    errors = rec[rec["error"] != ""][["sample_id", "label", "error", "path"]]

    groups = result.groups
    montages = []
    flagged = sorted(groups["group"].unique(), key=lambda g: (not groups.loc[groups["group"] == g, "cross_label"].iloc[0], g)) \
        if len(groups) else []
    for g in flagged[:max_montages]:
        members = groups[groups["group"] == g]
        kind = members["kind"].iloc[0]
        cross = bool(members["cross_label"].iloc[0])
        name = f"montages/group_{int(g):04d}.png"
        write_montage(out / name, members, f"group {g}: {kind} duplicate" + (" UNDER TWO LABELS" if cross else ""))
        montages.append(name)

    def n_kind(kind):
        return groups.loc[groups["kind"] == kind, "group"].nunique() if len(groups) else 0

    lines = [f"# Data audit of `{data}`", "",
             f"- images: {len(rec)} ({len(errors)} could not be decoded), audited in {result.seconds:.1f} s",
             f"- duplicate groups: {n_kind('exact')} exact (same decoded pixels), {n_kind('near')} near (same "
             f"radiograph, other pixels), {n_kind('crop')} crop (another crop, border or frame), "
             f"{n_kind('mirror')} mirror (flipped left-right); verified pairs and their evidence in duplicate_pairs.csv",
             f"- ERROR: {result.cross_label_groups} groups show the same picture under two labels"
             if result.cross_label_groups else "- no picture appears under two labels",
             f"- files with an EXIF orientation tag other than 1: {len(exif)} (listed in exif_orientation.csv; "
             "Keras ignores EXIF orientation and so do we, on purpose: the papers' models saw the stored pixels)",
             "", f"Duplicates: candidates are pairs whose perceptual hashes (whole image, 90 % and 80 % windows, "
             f"mirror) are within Hamming distance {threshold}; each is verified by OpenCV keypoints, a RANSAC "
             "similarity transform and the correlation of the aligned pixels (>= 0.95), so two people whose "
             "thumbnails look alike are not called duplicates. Not checked: rotations beyond a few degrees, "
             "vertical flips, heavy edits (annotations over much of the film), crops keeping under 40 % of "
             "the image, and candidates beyond an image's 3 nearest hashes (precision and recall measured "
             "on the real sources: benchmarks/RESULTS.md, \"Duplicate detection\").", ""]
    lines += ["## Shortcut flags", ""] + ([f"- {f}" for f in result.flags] or ["- none"])
    lines += ["", "## Class x source", ""] + _table(result.class_source, index=True)
    lines += ["", "## Image properties per class", ""] + _table(result.properties)
    lines += ["", "## Splits", ""]
    if splits is None:
        lines.append("Not checked (give --splits RUN_DIR).")
    elif result.leaks.empty:
        lines.append(f"`{splits}`: no duplicate group and no patient on both sides of any split.")
    else:
        counts = result.leaks.groupby(["fold", "kind"]).size().unstack(fill_value=0)
        lines += [f"`{splits}`: WARNING, leaks found (split_leaks.csv):", ""] + _table(counts, index=True)
    lines += ["", f"## Duplicate groups ({len(flagged)}; montages of the first {min(len(flagged), max_montages)})", ""]
    if len(groups):
        summary = groups.groupby("group").agg(kind=("kind", "first"), cross_label=("cross_label", "first"),
                                              size=("sample_id", "size"), labels=("label", lambda s: ", ".join(sorted(set(map(str, s))))),
                                              samples=("sample_id", lambda s: "; ".join(map(str, list(s)[:3]))))
        summary["montage"] = [f"[png](montages/group_{int(g):04d}.png)" if f"montages/group_{int(g):04d}.png" in montages else ""
                              for g in summary.index]
        lines += _table(summary, index=True)
    else:
        lines.append("(none)")
    if len(errors) or len(skipped):
        lines += ["", "## Files not audited", ""] + _table(errors) + _table(skipped)
    atomic_write_text(out / "audit.md", "\n".join(lines) + "\n")


def write_montage(path: Path, members: pd.DataFrame, title: str, max_images: int = 6) -> None:
    """Thumbnails side by side, each titled with its path (tail) and label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    part = members.head(max_images)
    fig, axes = plt.subplots(1, len(part), figsize=(3.2 * len(part), 3.8), squeeze=False)
    for ax, r in zip(axes[0], part.itertuples(index=False)):
        try:
            if is_dicom_path(r.path):
                from cxr_core.data.decode.dicom import read_dicom_uint8
                img = Image.fromarray(read_dicom_uint8(r.path))
            else:
                img = Image.open(r.path)
            img.thumbnail((256, 256))
            ax.imshow(np.asarray(img.convert("L")), cmap="gray", vmin=0, vmax=255)
        except (OSError, ValueError):
            ax.text(0.5, 0.5, "cannot open", ha="center")
        name = str(r.sample_id)
        short = f"{name[:16]}...{name[-13:]}" if len(name) > 32 else name
        ax.set_title(f"{short}\nlabel: {r.label}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title + (f" (first {max_images} of {len(members)})" if len(members) > max_images else ""), fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
