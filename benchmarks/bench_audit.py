"""Near-duplicate false-positive rate on ../shared/data, and the audit's time on ~1,000 images.

    python benchmarks/bench_audit.py [--shared ../shared/data] [--work /tmp/cxr-audit-bench]

1. False positives: every image of ../shared/data is distinct except the pairs its MANIFEST.csv files
   name (cxr4-mini-raw holds full-size originals of 6 cxr4-mini images: "full-size original of
   cxr4-mini/..."). Counts distinct pairs within the pHash threshold, and the named pairs found.
2. Planted copies: each image re-encoded as JPEG q75 and resized to 90 %: largest distance to its original.
3. Timing: 1,000 images = the 192 cxr4-mini images and variations of them (JPEG q80 re-encode, 90 %
   resize, 95 % centre crop, +8 brightness; 8 more re-encodes to reach 1,000), written with a
   MANIFEST.csv; times ``audit_dataset`` (2 threads) end to end.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from cxr_core.data.audit.checks import NEAR_THRESHOLD, audit_dataset, inspect_image, near_pairs


def shared_images(shared: Path) -> list[Path]:
    return sorted(p for p in shared.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def named_pairs(shared: Path, files: list[Path]) -> set[tuple[int, int]]:
    index = {p.relative_to(shared).as_posix(): i for i, p in enumerate(files)}
    pairs = set()
    for manifest in shared.glob("*/MANIFEST.csv"):
        for row in csv.DictReader(open(manifest, encoding="utf-8")):
            for other in re.findall(r"full-size original of (\S+?\.(?:png|jpe?g))", row.get("notes", "")):
                a, b = index[f"{manifest.parent.name}/{row['path']}"], index[other]
                pairs.add((min(a, b), max(a, b)))
    return pairs


def false_positives(shared: Path) -> None:
    files = shared_images(shared)
    hashes = np.array([inspect_image(str(p))["phash"] for p in files], dtype=np.uint64)
    pairs = near_pairs(hashes, NEAR_THRESHOLD)
    found = {(int(i), int(j)) for i, j, _ in pairs}
    named = named_pairs(shared, files)
    n = len(files)
    distinct = n * (n - 1) // 2 - len(named)
    fp = len(found - named)
    print(f"images {n}; distinct pairs {distinct}; named duplicate pairs {len(named)}, found {len(found & named)}")
    print(f"threshold {NEAR_THRESHOLD}: false positives {fp} ({fp / distinct:.2e}); 95% upper bound "
          f"{3.0 / distinct if fp == 0 else float('nan'):.1e}")
    worst = 0
    for p, h in zip(files, hashes):
        img = Image.open(p).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=75)
        small = img.resize((int(img.width * 0.9), int(img.height * 0.9)), Image.BILINEAR)
        for variant in (Image.open(io.BytesIO(buf.getvalue())), small):
            v = variant.copy()
            vb = io.BytesIO()
            v.save(vb, "PNG")
            path = Path("/tmp/_bench_audit_variant.png")
            path.write_bytes(vb.getvalue())
            worst = max(worst, int(np.bitwise_count(np.uint64(h) ^ np.uint64(inspect_image(str(path))["phash"]))))
    print(f"planted copies (JPEG q75, 90% resize) of all {n} images: largest distance {worst}")


def make_thousand(shared: Path, work: Path) -> Path:
    if work.exists():
        shutil.rmtree(work)
    rows = []
    mini = shared / "cxr4-mini"
    src = list(csv.DictReader(open(mini / "MANIFEST.csv", encoding="utf-8")))
    for k, row in enumerate(src):
        img = Image.open(mini / row["path"])
        img.load()
        rgb = img.convert("RGB")
        variants = {
            "orig": None,
            "q80": ("JPEG", rgb, {"quality": 80}),
            "r90": ("PNG", img.resize((int(img.width * 0.9), int(img.height * 0.9)), Image.BILINEAR), {}),
            "c95": ("PNG", img.crop((img.width // 40, img.height // 40, img.width - img.width // 40,
                                     img.height - img.height // 40)), {}),
            "b08": ("JPEG", ImageEnhance.Brightness(rgb).enhance(1.03), {"quality": 90}),
        }
        if k < 40:
            variants["q60"] = ("JPEG", rgb, {"quality": 60})
        for tag, spec in variants.items():
            rel = f"{row['class']}/{tag}_{Path(row['path']).name}"
            out = work / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if spec is None:
                shutil.copyfile(mini / row["path"], out)
            else:
                fmt, im, kw = spec
                out = out.with_suffix(".jpg" if fmt == "JPEG" else ".png")
                rel = out.relative_to(work).as_posix()
                im.save(out, fmt, **kw)
            rows.append({"path": rel, "label": row["class"], "patient_id": row["patient_id"], "source": row["source_repo"]})
    with open(work / "MANIFEST.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "label", "patient_id", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/cxr-audit-bench")
    args = ap.parse_args()
    shared = Path(args.shared)
    false_positives(shared)
    data = make_thousand(shared, Path(args.work) / "data")
    n = sum(1 for _ in open(data / "MANIFEST.csv")) - 1
    t = time.perf_counter()
    result = audit_dataset(data, Path(args.work) / "audit")
    print(f"audit of {n} images: {time.perf_counter() - t:.1f} s wall "
          f"({len(result.groups['group'].unique())} duplicate groups, {result.cross_label_groups} cross-label)")


if __name__ == "__main__":
    main()
