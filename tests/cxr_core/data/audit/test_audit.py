"""The data audit: planted duplicates found, distinct images not flagged, leaks per fold, shortcuts."""

from __future__ import annotations

import csv
import io
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_core.data.audit.checks import audit_dataset, inspect_image, load_gray
from cxr_core.data.audit.duplicates import verified_pairs
from cxr_core.data.audit.hazards import cheap_checks, leaks_across_sides
from cxr_core.data.tables.manifest import read_manifest_csv


def _write_manifest(root, rows):
    with open(root / "MANIFEST.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "patient_id", "source"])
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def planted(tmp_path, shared_data):
    """12 distinct images plus a byte copy, a re-encoded JPEG, a 90% resize and a cross-label copy."""
    root = tmp_path / "data"
    files = sorted((shared_data / "cxr4-mini" / "normal").iterdir())[:6] + \
        sorted((shared_data / "cxr4-mini" / "covid").iterdir())[:6]
    rows = []
    for f in files:
        label = f.parent.name
        (root / label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, root / label / f.name)
        rows.append({"path": f"{label}/{f.name}", "label": label, "patient_id": f"p-{f.stem}", "source": label + "-src"})
    a, b, c, d = files[0], files[1], files[2], files[7]
    shutil.copyfile(a, root / "normal" / "copy_of_a.jpeg")
    Image.open(b).convert("RGB").save(root / "normal" / "b_reencoded.jpg", "JPEG", quality=75)
    img = Image.open(c)
    img.resize((int(img.width * 0.9), int(img.height * 0.9)), Image.BILINEAR).save(root / "normal" / "c_small.png")
    shutil.copyfile(d, root / "normal" / ("covid_as_normal" + d.suffix))
    for name, pid in (("copy_of_a.jpeg", "p-x1"), ("b_reencoded.jpg", "p-x2"), ("c_small.png", "p-x3"),
                      ("covid_as_normal" + d.suffix, "p-x4")):
        rows.append({"path": f"normal/{name}", "label": "normal", "patient_id": pid, "source": "normal-src"})
    _write_manifest(root, rows)
    return root, {"a": a.name, "b": b.name, "c": c.name, "d": d.name}


def test_planted_duplicates_are_found(planted, tmp_path):
    root, names = planted
    result = audit_dataset(root, tmp_path / "audit", max_montages=5)
    groups = result.groups
    members = {g: set(part["sample_id"].str.split("/").str[-1]) for g, part in groups.groupby("group")}
    expected = [{names["a"], "copy_of_a.jpeg"}, {names["b"], "b_reencoded.jpg"}, {names["c"], "c_small.png"},
                {names["d"], "covid_as_normal" + names["d"][names["d"].rfind("."):]}]
    assert sorted(map(sorted, members.values())) == sorted(map(sorted, expected))
    kinds = groups.groupby("group")["kind"].first().to_dict()
    assert sorted(kinds.values()) == ["exact", "exact", "near", "near"]  # re-encode and resize: same frame
    assert result.cross_label_groups == 1
    md = (tmp_path / "audit" / "audit.md").read_text()
    assert "ERROR: 1 groups show the same picture under two labels" in md
    assert len(list((tmp_path / "audit" / "montages").glob("*.png"))) == 4
    assert "class 'covid' comes only from source 'covid-src'" in " ".join(result.flags)


def test_exact_duplicate_regardless_of_format(tmp_path, shared_data):
    src = sorted((shared_data / "cxr4-mini" / "normal").iterdir())[0]
    gray = Image.open(src).convert("L")
    gray.save(tmp_path / "a.png")
    gray.convert("RGB").save(tmp_path / "b.png")
    gray.save(tmp_path / "c.bmp")
    shas = {inspect_image(str(tmp_path / n))["pixel_sha256"] for n in ("a.png", "b.png", "c.bmp")}
    assert len(shas) == 1


def test_distinct_shared_images_are_not_flagged(shared_data):
    """../shared/data (the mini sets; sources/ has its own measurement, benchmarks/bench_duplicates.py): all
    distinct except the pairs its manifests name (cxr4-mini-raw originals)."""
    files = sorted(p for d in ("cxr4-mini", "cxr4-mini-raw", "ct2-mini") for p in (shared_data / d).rglob("*")
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    index = {p.relative_to(shared_data).as_posix(): i for i, p in enumerate(files)}
    named = set()
    for row in csv.DictReader(open(shared_data / "cxr4-mini-raw" / "MANIFEST.csv")):
        for other in re.findall(r"full-size original of (\S+?\.(?:png|jpe?g))", row["notes"]):
            a, b = index["cxr4-mini-raw/" + row["path"]], index[other]
            named.add((min(a, b), max(a, b)))
    hashes = np.stack([inspect_image(str(p))["window_hashes"] for p in files])
    found = {(v["i"], v["j"]) for v in verified_pairs(hashes, lambda k: load_gray(str(files[k])))}
    assert len(named) == 6 and found == named  # whole-image pHash <= 8 alone pairs 8 distinct ones


def test_split_leaks_per_fold(planted, tmp_path):
    root, names = planted
    run = tmp_path / "run"
    (run / "splits").mkdir(parents=True)
    table = read_manifest_csv(root / "MANIFEST.csv")
    ids = table.frame["sample_id"].tolist()
    roles0 = ["test" if s.endswith("copy_of_a.jpeg") else "train" for s in ids]
    roles1 = ["train"] * len(ids)
    for k, roles in enumerate((roles0, roles1)):
        pd.DataFrame({"sample_id": ids, "label": table.frame["label"], "patient_id": table.frame["patient_id"],
                      "role": roles}).to_csv(run / "splits" / f"fold_{k}.csv", index=False)
    result = audit_dataset(root, tmp_path / "audit", splits=run, max_montages=0)
    assert result.leaks[["fold", "kind"]].values.tolist() == [["0", "duplicate"]]
    assert "leaks found" in (tmp_path / "audit" / "audit.md").read_text()


def test_cheap_checks(planted):
    root, _ = planted
    table = read_manifest_csv(root / "MANIFEST.csv")
    ids = table.frame["sample_id"].tolist()
    roles = ["test" if s.endswith("copy_of_a.jpeg") else "train" for s in ids]
    report = cheap_checks(table, {0: roles})
    assert len(report.duplicate_groups) == 2  # byte copy + cross-label byte copy; re-encodes need the audit
    assert report.leaks["kind"].tolist() == ["duplicate"]
    assert any("both sides" in w for w in report.warnings)
    assert "## Data hazards" in report.markdown() and "covid-src" in report.markdown()


def test_leaks_across_sides_lists_keys_on_more_than_one_side():
    ids = np.array(["s0", "s1", "s2", "s3", "s4", "s5"])
    roles = np.array(["test", "train", "val", "unused", "train", "train"])
    keys = ["p1", "p1", "p2", "p2", None, "p3"]  # p1 train+test; p2 val and an unused row; s4 has no key
    rows = leaks_across_sides(keys, ids, roles, fold=3, kind="patient")
    assert rows == [{"fold": 3, "kind": "patient", "key": "p1", "sides": "train+test", "samples": ["s0", "s1"]}]
    roles[3] = "train"
    assert [r["sides"] for r in leaks_across_sides(keys, ids, roles, 0, "duplicate")] == ["train+test", "train+val"]
