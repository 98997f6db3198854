"""Duplicates as a radiologist would call them, on real files of ../shared/data/sources: the same film
mirrored, re-cropped with a border, re-encoded or rescaled is found; distinct Kermany children whose
whole-image pHash is within 4 bits (looked at: other ribs, other marker positions) are not."""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from cxr_core.data.audit.checks import load_gray
from cxr_core.data.audit.duplicates import verified_pairs, window_hashes

KERMANY = "sources/kermany-224/chest_xray"
#: distinct children at whole-image pHash distance 4, 4 and 2 (montage looked at: different rib
#: shapes, "R" markers elsewhere); before the verification, pHash <= 4 called each pair a duplicate
DISTINCT_CHILDREN = [("train/NORMAL/IM-0571-0001.jpeg", "train/NORMAL/NORMAL2-IM-1020-0001.jpeg"),
                     ("train/NORMAL/NORMAL2-IM-0653-0001.jpeg", "train/NORMAL/NORMAL2-IM-1347-0001.jpeg"),
                     ("train/NORMAL/NORMAL2-IM-0814-0001.jpeg", "train/NORMAL/NORMAL2-IM-1261-0001.jpeg")]
COLLECTION = "sources/covid-chestxray-dataset/images"


def _pairs(grays):
    hashes = np.stack([window_hashes(g) for g in grays])
    return {(v["i"], v["j"]): v["kind"] for v in verified_pairs(hashes, lambda k: grays[k], num_threads=1)}


@pytest.fixture
def originals(shared_data):
    """Two collection radiographs and two Kermany children, as gray arrays."""
    coll = sorted((shared_data / COLLECTION).glob("*.jp*g"))
    paths = [coll[10], coll[200], shared_data / KERMANY / DISTINCT_CHILDREN[0][0], shared_data / KERMANY / "test/PNEUMONIA/person1_virus_6.jpeg"]
    return [load_gray(str(p)) for p in paths]


def _crop_border(gray):
    h, w = gray.shape
    part = gray[int(0.08 * h):h - int(0.03 * h), int(0.02 * w):w - int(0.09 * w)]
    return cv2.copyMakeBorder(part, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


def _jpeg(gray, quality=25):
    return cv2.imdecode(cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("transform, kind", [
    (lambda g: np.ascontiguousarray(g[:, ::-1]), "mirror"),
    (_crop_border, "crop"),
    (_jpeg, "near"),
    (lambda g: cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), "near"),
])
def test_the_same_film_is_found_with_its_kind(originals, transform, kind):
    copies = [transform(g) for g in originals]
    n = len(originals)
    found = _pairs(originals + copies)
    assert found == {(k, n + k): kind for k in range(n)}


def test_crop_and_border_is_far_in_whole_image_phash(originals):
    """The crop + border copy is beyond the old whole-image threshold (4): the windows find it."""
    for g in originals:
        a, b = (int(str(imagehash.phash(Image.fromarray(x))), 16) for x in (g, _crop_border(g)))
        assert bin(a ^ b).count("1") > 4


def test_distinct_children_close_in_phash_are_not_duplicates(shared_data):
    paths = [shared_data / KERMANY / p for pair in DISTINCT_CHILDREN for p in pair]
    dists = [bin(int(str(imagehash.phash(Image.open(a))), 16) ^ int(str(imagehash.phash(Image.open(b))), 16)).count("1")
             for a, b in zip(paths[::2], paths[1::2])]
    assert max(dists) <= 4
    assert _pairs([load_gray(str(p)) for p in paths]) == {}


def test_same_film_saved_under_two_kermany_names_is_found(shared_data):
    """person128_bacteria_606/607 are one film saved twice (looked at; not byte- or pixel-equal)."""
    paths = [shared_data / KERMANY / "test/PNEUMONIA" / f"person128_bacteria_{k}.jpeg" for k in (606, 607)]
    grays = [load_gray(str(p)) for p in paths]
    assert _pairs(grays) == {(0, 1): "near"}


def test_follow_up_films_of_one_patient_are_not_the_same_radiograph(shared_data):
    """fig4a / fig4b: one patient's films on two days (looked at: b has more consolidation); before the
    keypoint-share rule they correlated 0.965 after alignment and were called one film."""
    images = shared_data / COLLECTION
    grays = [load_gray(str(images / f"1.CXRCTThoraximagesofCOVID-19fromSingapore.pdf-003-fig4{s}.png")) for s in "ab"]
    assert _pairs(grays) == {}


def test_covidx_train_and_test_folders_are_checked_as_a_split(tmp_path, shared_data):
    """A data build output with MANIFEST.csv subsets train/test: a copy on both sides is a leak, no --splits."""
    import shutil

    from cxr_core.data.audit.checks import audit_dataset

    files = sorted((shared_data / "cxr4-mini" / "normal").iterdir())[:4]
    rows = []
    for k, f in enumerate(files + files[:1]):
        subset = "test" if k >= 3 else "train"
        dest = tmp_path / "ds" / subset / f"{k}_{f.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
        rows.append(f"{subset}/{dest.name},normal,p{k},src,,,{subset}")
    (tmp_path / "ds" / "MANIFEST.csv").write_text("path,label,patient_id,source,source_path,sha256,subset\n" + "\n".join(rows) + "\n")
    result = audit_dataset(tmp_path / "ds", tmp_path / "audit", max_montages=0)
    assert result.leaks[["fold", "kind", "sides"]].values.tolist() == [["subset", "duplicate", "train+test"]]
    assert "MANIFEST.csv subset (train/ vs test/)" in (tmp_path / "audit" / "audit.md").read_text()
