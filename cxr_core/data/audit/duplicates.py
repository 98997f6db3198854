"""Duplicates as a radiologist would call them: the same radiograph, whatever its crop, border, scale,
mirror or JPEG quality, and never two different people whose thumbnails look alike.

Two stages (measured on the real sources in benchmarks/RESULTS.md, "Duplicate detection"):

1. Candidates (cheap, for recall): each image's gray pixels, with uniform borders trimmed
   (:func:`trim_border`), get 64-bit perceptual hashes (pHash: 32x32 gray, DCT, 8x8 low frequencies
   against their median, as ``imagehash.phash``) of :data:`WINDOWS` (the whole image and 50 windows of
   90 % and 80 % at 5x5 positions) and of the mirrored whole image. A pair is a candidate when a window
   of one is within Hamming distance :data:`CANDIDATE_DISTANCE` of the other's whole image or of its
   mirror (either way round), so a copy that is a crop of the other, or mirrored, is compared at
   the right framing.
2. Verification (exact, for precision): OpenCV ORB keypoints (500 per image; SIFT with
   :data:`DETECTOR` = ``"sift"``) of both trimmed images (longest side :data:`VERIFY_SIDE` px), Lowe's
   ratio test (0.75), and a similarity transform (rotation, scale, shift)
   fitted by RANSAC (``cv2.estimateAffinePartial2D``); the mirrored image is tried when the direct
   match fails. Two images are the same radiograph when at least :data:`MIN_INLIERS` matches, and
   :data:`MIN_INLIER_SHARE` of the keypoints of the image with fewer, agree with the transform AND, after warping one onto the other, the correlation of their pixels over
   the shared area is at least :data:`MIN_CORRELATION` on an area of at least :data:`MIN_OVERLAP`
   of the smaller image. Two children's films of the same age and pose share the anatomy, not the
   pixels: their keypoints do not agree on one transform, and aligned pixels do not correlate; two
   films of one patient days apart correlate up to 0.97 but share under a fifth of their keypoints.

``kind`` of a verified pair: ``mirror`` (matched only after a horizontal flip), ``crop`` (the two
fields of view differ: a crop, a border or a shifted frame), else ``near`` (same field of view,
other pixels: re-encoding, resizing, contrast). ``exact`` (same decoded pixels) is found before,
from the pixels' SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: windows hashed per image: (side as a fraction of the trimmed image, x position, y position (0-1))
WINDOWS = ((1.0, 0.5, 0.5),) + tuple((s, fx, fy) for s in (0.9, 0.8) for fy in (0.0, 0.25, 0.5, 0.75, 1.0)
                                     for fx in (0.0, 0.25, 0.5, 0.75, 1.0))
#: hash columns per image: the windows, then the mirrored whole image
N_HASHES = len(WINDOWS) + 1
#: Hamming distance (of 64 bits) of a candidate pair
CANDIDATE_DISTANCE = 8
#: pairs this close are always candidates; farther ones (up to CANDIDATE_DISTANCE) only among an
#: image's CANDIDATE_NEAREST nearest
ALWAYS_CANDIDATE = 2
CANDIDATE_NEAREST = 3
#: longest side (px) of the images the hashes are computed on (windows are cut from it)
HASH_SIDE = 128
#: longest side (px) of the images the verification matches
VERIFY_SIDE = 256
MIN_INLIERS = 12
#: inliers as a share of the keypoints of the image with fewer: the same film >= 0.30 on the real
#: sources (0.37 or more for a copy at 40-70 % scale); follow-up films of one patient <= 0.18
MIN_INLIER_SHARE = 0.25
MIN_CORRELATION = 0.95
MIN_OVERLAP = 0.4
#: a pair's fields of view are the same (``near``, not ``crop``) when every corner maps within this
#: fraction of the image's longest side of the other image's corner
SAME_FRAME_TOLERANCE = 0.03


# --------------------------------------------------------------------------------------- stage 1
def trim_border(gray: np.ndarray, spread: int = 16) -> np.ndarray:
    """``gray`` (H, W) uint8 without its outer rows and columns whose values span at most ``spread``
    gray levels (flat borders of any shade: padding, frames); the whole image when all are flat."""
    def span(lines):
        flat = (lines.max(axis=1).astype(np.int16) - lines.min(axis=1)) <= spread
        keep = np.nonzero(~flat)[0]
        return (int(keep[0]), int(keep[-1]) + 1) if len(keep) else (0, len(lines))

    r0, r1 = span(gray)
    c0, c1 = span(gray.T)
    return gray[r0:r1, c0:c1]


def phash64(gray: np.ndarray) -> int:
    """pHash of ``gray`` (H, W) uint8 as a 64-bit int: ``imagehash.phash``'s algorithm (32x32 area
    resize, 2-D DCT-II, the 8x8 lowest frequencies against their median) on OpenCV's resize and DCT."""
    import cv2

    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    bits = (low > np.median(low)).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def _resize_longest(gray: np.ndarray, side: int) -> np.ndarray:
    import cv2

    scale = side / max(gray.shape)
    if scale >= 1:
        return gray
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def window_hashes(gray: np.ndarray) -> np.ndarray:
    """(:data:`N_HASHES`,) uint64: pHash of each of :data:`WINDOWS` of the trimmed ``gray`` (H, W)
    uint8, then of the mirrored whole."""
    small = _resize_longest(trim_border(gray), HASH_SIDE)
    h, w = small.shape
    out = []
    for s, fx, fy in WINDOWS:
        cw, ch = max(1, int(w * s)), max(1, int(h * s))
        left, top = int((w - cw) * fx), int((h - ch) * fy)
        out.append(phash64(small[top:top + ch, left:left + cw]))
    out.append(phash64(small[:, ::-1]))
    return np.array(out, dtype=np.uint64)


def candidate_pairs(hashes: np.ndarray, threshold: int = CANDIDATE_DISTANCE, nearest: int = CANDIDATE_NEAREST,
                    chunk: int = 1024) -> np.ndarray:
    """``(i, j, distance)`` rows (i < j) of images whose :func:`window_hashes` ``hashes`` (N,
    :data:`N_HASHES`) uint64 say one may be a crop, copy or mirror of the other: a window of one
    within ``threshold`` of the other's whole image or its mirror, and (beyond distance
    :data:`ALWAYS_CANDIDATE`) among the ``nearest`` of one of them, which bounds the verification's
    work on homogeneous sources (Kermany's children are all within a few bits of many others)."""
    h = np.asarray(hashes, dtype=np.uint64)
    n = len(h)
    whole, mirror = h[:, 0], h[:, -1]
    out = []
    for start in range(0, n, chunk):
        block = h[start:start + chunk]
        best = np.full((len(block), n), 64, dtype=np.uint8)
        for w in range(len(WINDOWS)):
            for target in (whole, mirror):
                np.minimum(best, np.bitwise_count(block[:, w, None] ^ target[None, :]).astype(np.uint8), out=best)
        best[np.arange(len(block)), np.arange(start, start + len(block))] = 64
        kth = np.partition(best, nearest, axis=1)[:, nearest - 1:nearest] if nearest < n else 64
        i, j = np.nonzero((best <= ALWAYS_CANDIDATE) | ((best <= threshold) & (best <= kth)))
        out.append(np.stack([i + start, j, best[i, j]], axis=1))
    rows = np.concatenate(out) if out else np.zeros((0, 3), dtype=np.int64)
    rows = rows[rows[:, 0] != rows[:, 1]]
    lo, hi = np.minimum(rows[:, 0], rows[:, 1]), np.maximum(rows[:, 0], rows[:, 1])
    pairs = {}
    for a, b, d in zip(lo.tolist(), hi.tolist(), rows[:, 2].tolist()):
        pairs[(a, b)] = min(d, pairs.get((a, b), 64))
    return np.array([(a, b, d) for (a, b), d in sorted(pairs.items())], dtype=np.int64).reshape(-1, 3)


# --------------------------------------------------------------------------------------- stage 2
@dataclass(frozen=True)
class Match:
    """Verdict of :func:`verify_pair`: ``same`` radiograph or not, with the evidence."""

    same: bool
    kind: str  # near / crop / mirror ("" when not the same)
    inliers: int
    correlation: float
    overlap: float
    share: float = 0.0  # inliers / keypoints of the image with fewer


class Features:
    """Keypoints of one image, its flat border trimmed (longest side :data:`VERIFY_SIDE`), and of its
    mirror (lazily); ``gray`` (H, W) uint8."""

    def __init__(self, gray: np.ndarray):
        trimmed = trim_border(gray)
        self.bordered = trimmed.shape != gray.shape
        self.gray = _resize_longest(trimmed, VERIFY_SIDE)
        self._direct = None
        self._mirror = None

    @staticmethod
    def _keypoints(gray):
        kp, desc = _detector().detectAndCompute(gray, None)
        return np.float32([k.pt for k in kp]).reshape(-1, 2), desc

    def direct(self):
        if self._direct is None:
            self._direct = self._keypoints(self.gray)
        return self._direct

    def mirrored(self):
        if self._mirror is None:
            self._mirror = self._keypoints(np.ascontiguousarray(self.gray[:, ::-1]))
        return self._mirror


_DETECTORS: dict = {}
#: keypoint detector of the verification: ``orb`` (binary, fast) or ``sift``
DETECTOR = "orb"


def _detector():
    if DETECTOR not in _DETECTORS:
        import cv2

        _DETECTORS[DETECTOR] = (cv2.ORB_create(nfeatures=500, fastThreshold=5) if DETECTOR == "orb"
                                else cv2.SIFT_create(nfeatures=800))
    return _DETECTORS[DETECTOR]


def _fit(a, b):
    """Similarity transform (2x3) taking b's points onto a's, and its inlier count."""
    import cv2

    (pa, da), (pb, db) = a, b
    if da is None or db is None or len(da) < 2 or len(db) < 2:
        return None, 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING if DETECTOR == "orb" else cv2.NORM_L2).knnMatch(db, da, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.75 * n.distance]
    if len(good) < MIN_INLIERS:
        return None, len(good)
    src = pb[[m.queryIdx for m in good]]
    dst = pa[[m.trainIdx for m in good]]
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    return matrix, int(mask.sum()) if mask is not None else 0


def _aligned_correlation(a: np.ndarray, b: np.ndarray, matrix: np.ndarray) -> tuple[float, float]:
    """Pearson correlation of ``a`` and ``b`` warped onto it, over the shared area; the shared area
    as a fraction of the smaller image."""
    import cv2

    h, w = a.shape
    warped = cv2.warpAffine(b.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=-1.0)
    inside = cv2.warpAffine(np.ones(b.shape, np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 1e-3:
        return 0.0, 0.0
    overlap = inside.sum() / min(a.size, b.size * scale * scale)
    if inside.sum() < 100:
        return 0.0, float(overlap)
    x, y = a[inside].astype(np.float64), warped[inside].astype(np.float64)
    if x.std() == 0 or y.std() == 0:
        return 0.0, float(overlap)
    return float(np.corrcoef(x, y)[0, 1]), float(overlap)


def _same_frame(a_shape, b_shape, matrix) -> bool:
    h, w = a_shape
    bh, bw = b_shape
    corners = np.float32([[0, 0, 1], [bw, 0, 1], [0, bh, 1], [bw, bh, 1]]) @ matrix.T
    target = np.float32([[0, 0], [w, 0], [0, h], [w, h]])
    return bool(np.abs(corners - target).max() <= SAME_FRAME_TOLERANCE * max(h, w))


def verify_pair(a: Features, b: Features, mirror_first: bool = False) -> Match:
    """Whether ``a`` and ``b`` show the same radiograph (see the module docstring); ``mirror_first``:
    try the mirrored match first (the hashes found the mirror closer)."""
    best = Match(False, "", 0, 0.0, 0.0)
    for mirrored in ((True, False) if mirror_first else (False, True)):
        theirs = b.mirrored() if mirrored else b.direct()
        matrix, inliers = _fit(a.direct(), theirs)
        share = inliers / max(1, min(len(a.direct()[0]), len(theirs[0])))
        if matrix is None or inliers < MIN_INLIERS:
            best = max(best, Match(False, "", inliers, 0.0, 0.0), key=lambda m: m.inliers)
            continue
        other = np.ascontiguousarray(b.gray[:, ::-1]) if mirrored else b.gray
        corr, overlap = _aligned_correlation(a.gray, other, matrix)
        same = corr >= MIN_CORRELATION and overlap >= MIN_OVERLAP and share >= MIN_INLIER_SHARE
        same_frame = _same_frame(a.gray.shape, other.shape, matrix) and a.bordered == b.bordered
        kind = "mirror" if mirrored else ("near" if same_frame else "crop")
        match = Match(same, kind if same else "", inliers, corr, overlap, share)
        if same:
            return match
        best = max(best, match, key=lambda m: (m.correlation, m.inliers))
    return best


# --------------------------------------------------------------------------------------- both stages
def gray_of(arr: np.ndarray) -> np.ndarray:
    """(H, W) uint8 gray of a decoded image ``arr`` (H, W) or (H, W, 3), any integer depth (16-bit
    scaled by its maximum value, not clipped)."""
    import cv2

    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY)
    if arr.dtype != np.uint8:
        top = float(arr.max()) or 1.0
        arr = (arr.astype(np.float64) * (255.0 / top)).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def verified_pairs(hashes: np.ndarray, load_gray, *, skip=frozenset(), threshold: int = CANDIDATE_DISTANCE,
                   num_threads: int = 2, progress=None) -> list[dict]:
    """Candidate pairs of ``hashes`` (N, :data:`N_HASHES`) checked by :func:`verify_pair`.

    ``load_gray(i)`` returns image i as (H, W) uint8 gray; ``skip``: pairs ``(i, j)`` (i < j) known
    already (same pixels). Returns one dict per pair that shows the same radiograph: ``i, j, kind,
    hash_distance, inliers, correlation, overlap``.
    """
    from concurrent.futures import ThreadPoolExecutor

    pairs = [p for p in candidate_pairs(hashes, threshold).tolist() if (p[0], p[1]) not in skip]
    needed = sorted({k for i, j, _ in pairs for k in (i, j)})
    with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
        feats = dict(zip(needed, pool.map(_features, [load_gray] * len(needed), needed)))
        mirror_first = [_mirror_closer(hashes[i], hashes[j]) for i, j, _ in pairs]

        def check(args):
            (i, j, d), mirror = args
            m = verify_pair(feats[i], feats[j], mirror_first=mirror)
            return {"i": i, "j": j, "kind": m.kind, "hash_distance": d, "inliers": m.inliers,
                    "correlation": round(m.correlation, 4), "overlap": round(m.overlap, 3),
                    "inlier_share": round(m.share, 3)} if m.same else None

        done = []
        for k, row in enumerate(pool.map(check, zip(pairs, mirror_first))):
            if progress is not None and k % 500 == 0:
                progress(k, len(pairs))
            if row is not None:
                done.append(row)
    return done


def _features(load_gray, k: int) -> Features:
    feats = Features(load_gray(k))
    feats.direct()
    return feats


def _mirror_closer(a: np.ndarray, b: np.ndarray) -> bool:
    windows = len(WINDOWS)
    direct = min(np.bitwise_count(a[:windows] ^ b[0]).min(), np.bitwise_count(b[:windows] ^ a[0]).min())
    mirror = min(np.bitwise_count(a[:windows] ^ b[-1]).min(), np.bitwise_count(b[:windows] ^ a[-1]).min())
    return bool(mirror < direct)
