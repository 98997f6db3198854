"""Duplicate detection on the real sources: precision, recall and the audit's time.

    python benchmarks/bench_duplicates.py [--sources ../shared/data/sources] [--work /tmp/cxr-dup-bench]

1. Audit of Kermany (kermany-224, 5,840 images) + the COVID-19 image data collection (images/, 724),
   2 threads, timed end to end; groups per kind; pairs that cross two patient ids of the collection
   and pairs of two Kermany file names are listed (montages in WORK/audit/montages, to look at).
2. Negatives: Kermany pairs at whole-image pHash distance <= 4 (imagehash.phash) under two file names:
   how many the audit calls the same radiograph (listed for eyes: same film saved twice, or not).
3. Recall on synthetic copies of 200 real images (100 Kermany, 100 collection, seed 0), one copy each,
   50 per kind (25 + 25): crop of 0-10 % per side + a 2-6 % black or white border, 40-70 % scale,
   horizontal mirror, JPEG quality 20-50; each copy goes through both stages (candidates among all
   images + the 200 copies, then verification).
"""

from __future__ import annotations

import argparse
import csv
import re
import os
import time
from pathlib import Path

import cv2
import numpy as np

from cxr_core.data.audit.checks import audit_dataset, load_gray
from cxr_core.data.audit.duplicates import Features, candidate_pairs, verify_pair, window_hashes


def kermany_patient(name: str) -> str:
    m = re.match(r"(person\d+)_", name) or re.match(r"(?:NORMAL2-)?(IM-\d+)", name)
    return ("NORMAL2-" if name.startswith("NORMAL2") else "") + m.group(1) if m else name


def make_data(sources: Path, work: Path) -> Path:
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for link, target in (("kermany", sources / "kermany-224" / "chest_xray"),
                         ("ieee8023", sources / "covid-chestxray-dataset" / "images")):
        if not (data / link).exists():
            (data / link).symlink_to(target.resolve())
    rows = [{"path": p.relative_to(data).as_posix(), "label": p.parent.name.lower(), "patient_id": kermany_patient(p.name),
             "source": "kermany"} for p in sorted((data / "kermany").glob("*/*/*.jpeg"))]
    present = {p.name for p in (data / "ieee8023").iterdir()}
    seen = set()
    for r in csv.DictReader(open(sources / "covid-chestxray-dataset" / "metadata.csv", encoding="utf-8")):
        if r["filename"] in present and r["filename"] not in seen and r["folder"] == "images":
            seen.add(r["filename"])
            rows.append({"path": f"ieee8023/{r['filename']}", "label": r["finding"], "patient_id": "ieee-" + r["patientid"],
                         "source": "ieee8023"})
    with open(data / "MANIFEST.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "patient_id", "source"])
        w.writeheader()
        w.writerows(rows)
    return data


def synthetic(gray: np.ndarray, kind: str, rng) -> np.ndarray:
    h, w = gray.shape
    if kind == "crop_border":
        left, right, top, bottom = (rng.uniform(0, 0.1, 4) * [w, w, h, h]).astype(int)
        part = gray[top:h - bottom, left:w - right]
        b = int(max(w, h) * rng.uniform(0.02, 0.06))
        return cv2.copyMakeBorder(part, b, b, b, b, cv2.BORDER_CONSTANT, value=int(rng.choice([0, 255])))
    if kind == "scale":
        s = rng.uniform(0.4, 0.7)
        return cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    if kind == "mirror":
        return np.ascontiguousarray(gray[:, ::-1])
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 51))])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "sources"))
    ap.add_argument("--work", default="/tmp/cxr-dup-bench")
    args = ap.parse_args()
    work = Path(args.work)
    data = make_data(Path(args.sources), work)
    t, cpu = time.perf_counter(), time.process_time()
    result = audit_dataset(data, work / "audit", num_threads=2, max_montages=300)
    print(f"1. audit of {len(result.records)} images, 2 threads: {time.perf_counter() - t:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU (machine shared: load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    g = result.groups
    print("   groups per kind:", g.groupby("group")["kind"].first().value_counts().to_dict())
    for gid, part in g.groupby("group"):
        if part["patient_id"].nunique() > 1:
            print(f"   group {gid} ({part['kind'].iloc[0]}):", "; ".join(f"{r.patient_id}:{Path(r.path).name}" for r in part.itertuples()))
    rec = result.records[result.records["error"] == ""].reset_index(drop=True)
    rows = rec.to_dict("records")
    paths = rec["path"].astype(str).tolist()
    hashes = np.stack(rec["window_hashes"].to_list())
    pair_kind = {}
    for r in result.pairs.itertuples():
        pair_kind[(r.sample_a, r.sample_b)] = pair_kind[(r.sample_b, r.sample_a)] = r.kind
    kermany = [k for k, r in enumerate(rows) if r["source"] == "kermany"]
    whole = rec["phash"].astype(np.uint64).to_numpy()[kermany]
    dist = np.bitwise_count(whole[:, None] ^ whole[None, :])
    a, b = np.nonzero(np.triu(dist <= 4, 1))
    close = [(kermany[i], kermany[j]) for i, j in zip(a, b)]
    exact = {(i, j) for i, j in close if rows[i]["pixel_sha256"] == rows[j]["pixel_sha256"]}
    called = [(i, j, pair_kind.get((rows[i]["sample_id"], rows[j]["sample_id"]), "exact" if (i, j) in exact else None))
              for i, j in close]
    called = [c for c in called if c[2]]
    print(f"2. Kermany pairs at whole-image pHash <= 4 under two file names: {len(close)}; called the same "
          f"radiograph: {len(called)} ({len(exact)} exact)")
    for i, j, kind in called:
        print(f"   {kind}: {rows[i]['sample_id']} {rows[j]['sample_id']}")
    rng = np.random.default_rng(0)
    coll = [k for k, r in enumerate(rows) if r["source"] != "kermany"]
    picks = list(rng.choice(kermany, 100, replace=False)) + list(rng.choice(coll, 100, replace=False))
    kinds = ("crop_border", "scale", "mirror", "jpeg")
    extra, origin = [], []
    for q, k in enumerate(picks):  # one copy per original: 25 Kermany + 25 collection images per kind
        kind = kinds[q % 4]
        extra.append(synthetic(load_gray(paths[k]), kind, rng))
        origin.append((int(k), kind))
    n = len(paths)
    t = time.perf_counter()
    cands = [(i, j) for i, j, _ in candidate_pairs(np.vstack([hashes, np.stack([window_hashes(e) for e in extra])])).tolist()
             if j >= n]
    feats = {}

    def features(k):
        if k not in feats:
            feats[k] = Features(load_gray(paths[k]) if k < n else extra[k - n])
        return feats[k]

    pairs = {}
    for i, j in cands:
        m = verify_pair(features(i), features(j))
        if m.same:
            pairs[(i, j)] = m.kind
    print(f"3. recall on synthetic copies ({len(cands)} candidate pairs with a copy, {time.perf_counter() - t:.0f} s):")
    for kind in kinds:
        hits = [pairs.get((o, n + q)) for q, (o, kd) in enumerate(origin) if kd == kind]
        ker = sum(h is not None for h, (o, _) in zip(hits, [x for x in origin if x[1] == kind]) if rows[o]["source"] == "kermany")
        print(f"   {kind}: {sum(h is not None for h in hits)}/50 (Kermany {ker}/25), kinds called "
              f"{dict((k, hits.count(k)) for k in ('near', 'crop', 'mirror') if hits.count(k))}")
    others = [(i, j) for (i, j) in pairs if (i < n and origin[j - n][0] != i) or (i >= n and origin[i - n][0] != origin[j - n][0])]
    print(f"   copies matched to an image other than their original: {len(others)}",
          "; ".join(f"{paths[origin[j - n][0]]} ~ {paths[i] if i < n else paths[origin[i - n][0]]}" for i, j in others[:10]))


if __name__ == "__main__":
    main()
