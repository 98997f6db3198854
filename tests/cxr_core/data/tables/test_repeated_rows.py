"""One repeated-row rule: a CSV manifest and a COVIDx split file naming the same rows give the same table."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cxr_core.data.tables.covidx import read_covidx_split
from cxr_core.data.tables.manifest import read_manifest_csv
from cxr_core.data.tables.sample_table import SampleError

#: (file, label) rows: repeats with the same label, a repeat with another label, a repeated missing file.
ROWS = [("a.png", "normal"), ("a.png", "normal"), ("b.png", "pneumonia"), ("gone.png", "normal"),
        ("a.png", "normal"), ("b.png", "normal"), ("gone.png", "normal"), ("b.png", "pneumonia")]
CLASSES = ("normal", "pneumonia", "COVID-19")


@pytest.fixture
def both(tmp_path):
    for name in ("a.png", "b.png"):
        assert cv2.imwrite(str(tmp_path / name), np.zeros((8, 8), np.uint8))
    (tmp_path / "m.csv").write_text("path,label,patient_id\n" + "".join(f"{f},{lab},p\n" for f, lab in ROWS))
    (tmp_path / "split.txt").write_text("".join(f"p {f} {lab}\n" for f, lab in ROWS))

    def read(kind, drop, on_error="skip"):
        if kind == "manifest":
            return read_manifest_csv(tmp_path / "m.csv", class_names=CLASSES, drop_duplicates=drop, on_error=on_error)
        return read_covidx_split(tmp_path / "split.txt", tmp_path, class_names=CLASSES, drop_duplicates=drop,
                                 on_error=on_error)
    return read


def _lines(table):
    """Skipped rows as (file, reason) with the line numbers shifted to the data row (the manifest has a header)."""
    return [(p.rsplit("/", 1)[-1], r) for p, r in zip(table.skipped["path"], table.skipped["reason"])]


@pytest.mark.parametrize("drop", [False, True, "keep"])
def test_manifest_and_split_file_agree(both, drop):
    manifest, split = both("manifest", drop), both("covidx", drop)
    assert manifest.frame["sample_id"].tolist() == split.frame["sample_id"].tolist()
    assert manifest.frame["label"].tolist() == split.frame["label"].tolist()
    # the same reasons; line numbers differ by the manifest's header line
    strip = [(f, r.split(" (line")[0].split(" on line")[0]) for f, r in _lines(manifest)]
    assert strip == [(f, r.split(" (line")[0].split(" on line")[0]) for f, r in _lines(split)]
    expected_ids = {False: ["a.png", "b.png"], True: ["a.png", "b.png"],
                    "keep": ["a.png", "a.png#2", "b.png", "a.png#3", "b.png#2"]}[drop]
    assert split.frame["sample_id"].tolist() == expected_ids
    reasons = [r for _, r in _lines(split)]
    assert sum(r.startswith("file not found") for r in reasons) == 2  # both rows of the missing file
    assert sum("labelled 'normal' on line 6 but 'pneumonia' on line 3" in r for r in reasons) == 1


def test_errors_name_the_lines_in_both(both):
    with pytest.raises(SampleError, match=r"m.csv line 3: a.png repeats line 2 \(set data.drop_duplicates"):
        both("manifest", False, "raise")
    with pytest.raises(SampleError, match=r"split.txt line 2: a.png repeats line 1 \(COVIDx \*_split_v2"):
        both("covidx", False, "raise")
    for kind, line, first in (("manifest", 7, 4), ("covidx", 6, 3)):
        with pytest.raises(SampleError, match=f"line {line}: b.png labelled 'normal', but 'pneumonia' on line {first}"):
            both(kind, True, "raise")
