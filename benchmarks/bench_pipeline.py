"""Input pipeline throughput (targets 1-3 of the speed issue), both sides on the same files, one run.

    python benchmarks/make_bench_data.py /tmp/cxr-bench-data
    python benchmarks/bench_pipeline.py /tmp/cxr-bench-data [--rounds 2]

Measures images per second over full passes of the set (600 files, 1000-2500 px, JPEG and PNG) at
CoroNet's authors_code settings (150x150, nearest, x/255, batch 10, docs/PAPERS.md section 1.2):

- ``authors``: keras_preprocessing 1.1.2 ``ImageDataGenerator(...).flow_from_directory(...)`` with the
  authors' arguments (what tf.keras 2.0-2.2 ran [CN]), iterated as ``fit_generator(workers=1)`` does;
- ``ours``: :func:`cxr_core.data.pipeline.build_dataset` with augmentation, no cache (exact decode);
- ``ours_fast``: the same with ``fast_jpeg_decode=True`` (reduced-scale JPEG decoding, opt-in);
- ``decode_*``: decoding + nearest resize only, no augmentation, both cores busy (the bound of
  target 2): TensorFlow (exact ISLOW and IFAST), OpenCV and PIL in two threads;
- ``ours_cached``: epochs 2+ with ``cache=True`` (uint8 150x150 kept in memory).

The files are read once beforehand so that every side reads from the page cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SIZE = (150, 150)
BATCH = 10
AUTHORS_ARGS = dict(  # docs/PAPERS.md section 1.2 [CN]
    rescale=1.0 / 255, featurewise_center=True, featurewise_std_normalization=True, zca_whitening=True,
    rotation_range=50, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25, zoom_range=0.1,
    channel_shift_range=20, horizontal_flip=True, vertical_flip=True, fill_mode="constant",
)


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, {model}, {platform.platform()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def table_for(root: Path):
    from cxr_core.data.tables.readers import read_class_folders

    return read_class_folders(root)


def coronet_augment():
    from cxr_core.data.augment.keras2 import Keras2AugmentSpec

    return Keras2AugmentSpec(rotation_range=50, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25,
                             zoom_range=0.1, channel_shift_range=20, horizontal_flip=True, vertical_flip=True)


def timed_pass(iterable, n_images: int) -> float:
    t0 = time.perf_counter()
    count = 0
    for batch in iterable:
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        count += int(first.shape[0])
    dt = time.perf_counter() - t0
    assert count == n_images, (count, n_images)
    return n_images / dt


def authors(root: Path) -> float:
    import warnings

    from keras_preprocessing.image import ImageDataGenerator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "hasn't been fit on any training data" on every batch, as [CN-old]
        gen = ImageDataGenerator(**AUTHORS_ARGS).flow_from_directory(
            str(root), target_size=SIZE, batch_size=BATCH, class_mode="categorical", shuffle=True, seed=42)
        n = gen.samples
        return timed_pass((gen[i] for i in range(len(gen))), n)


def ours(table, *, fast: bool = False, augment: bool = True, cached_epochs: int = 0, method: str = "nearest") -> float:
    from cxr_core.data.pipeline import PipelineSpec, build_dataset

    spec = PipelineSpec(SIZE, method, "rescale01", coronet_augment(), cache=bool(cached_epochs), fast_jpeg_decode=fast)
    ds = build_dataset(table, spec, batch_size=BATCH, shuffle=True, augment=augment, seed=1,
                       repeat=bool(cached_epochs))
    n = len(table)
    if not cached_epochs:
        return timed_pass(ds, n)
    it = iter(ds)
    steps = -(-n // BATCH)
    for _ in range(steps):  # epoch 1 fills the cache (batches span epochs with repeat: n is a multiple of 10)
        next(it)
    t0 = time.perf_counter()
    for _ in range(steps * cached_epochs):
        next(it)
    return steps * cached_epochs * BATCH / (time.perf_counter() - t0)


def tf_decode_only(table, dct_method: str) -> float:
    import tensorflow as tf

    from cxr_core.data.decode.resize import resize_to_uint8

    paths = tf.constant(table.frame["path"].astype(str).tolist())

    def load(p):
        data = tf.io.read_file(p)
        is_jpeg = tf.equal(tf.strings.substr(data, 0, 3), b"\xff\xd8\xff")
        img = tf.cond(is_jpeg, lambda: tf.io.decode_jpeg(data, 3, dct_method=dct_method),
                      lambda: tf.io.decode_png(data, 3))
        return resize_to_uint8(img, SIZE, "nearest")

    ds = tf.data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH)
    return timed_pass(ds.prefetch(tf.data.AUTOTUNE), len(table))


def threaded(fn, paths, threads: int = 2) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(fn, paths, chunksize=8):
            pass
    return len(paths) / (time.perf_counter() - t0)


def cv2_load(path: str):
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR)
    return cv2.resize(img, SIZE[::-1], interpolation=cv2.INTER_NEAREST)


def cv2_load_reduced(path: str):
    import cv2

    h, w = cv2.imread(path, cv2.IMREAD_REDUCED_GRAYSCALE_8).shape[:2]  # cheap size probe
    factor = min(h * 8 // SIZE[0], w * 8 // SIZE[1])
    flag = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}
    f = next((k for k in (8, 4, 2) if factor >= k), 1)
    img = cv2.imread(path, flag.get(f, cv2.IMREAD_COLOR))
    return cv2.resize(img, SIZE[::-1], interpolation=cv2.INTER_NEAREST)


def pil_load(path: str, draft: bool = False):
    from PIL import Image

    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (SIZE[1], SIZE[0]))
        return np.asarray(im.convert("RGB").resize(SIZE[::-1], Image.NEAREST))


class Reporter(dict):
    """A dict that prints each figure as it is measured."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        import gc

        gc.collect()  # let the finished datasets' threads go before the next measurement
        time.sleep(1.0)
        print(f"  {key:30s} {value:9.1f} img/s  (load {os.getloadavg()[0]:.2f})", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="benchmark set (class folders), from make_bench_data.py")
    ap.add_argument("--rounds", type=int, default=2, help="repeat the whole comparison (default 2)")
    ap.add_argument("--only", help="comma-separated subset of: authors,ours,ours_fast,decode,decode_exact,cached")
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else {"authors", "ours", "ours_fast", "decode", "cached"}
    import tensorflow as tf

    files = image_files(args.data)
    for p in files:  # page cache
        p.read_bytes()
    table = table_for(args.data)
    paths = [str(p) for p in files]
    print(f"machine: {machine()}")
    print(f"tensorflow {tf.__version__}; {len(files)} files ({sum(p.suffix == '.png' for p in files)} PNG) in {args.data}")
    summary: dict[str, list[float]] = {}
    for r in range(args.rounds):
        res = Reporter()
        if "authors" in only:
            res["authors"] = authors(args.data)
        if "ours" in only:
            res["ours"] = ours(table)
        if "ours_fast" in only:
            res["ours_fast"] = ours(table, fast=True)
        if "decode_exact" in only:  # the two figures target 2 compares, measured back to back
            res["decode_tf_exact"] = ours(table, augment=False)
            res["ours"] = ours(table)
        if "decode" in only:
            res["decode_tf_exact"] = ours(table, augment=False)
            res["decode_tf_islow_raw"] = tf_decode_only(table, "INTEGER_ACCURATE")
            res["decode_tf_ifast_raw"] = tf_decode_only(table, "INTEGER_FAST")
            res["decode_cv2_2threads"] = threaded(cv2_load, paths)
            res["decode_pil_2threads"] = threaded(pil_load, paths)
            res["decode_fast_tf"] = ours(table, augment=False, fast=True)
            res["decode_cv2_reduced_2threads"] = threaded(cv2_load_reduced, paths)
            res["decode_pil_draft_2threads"] = threaded(lambda p: pil_load(p, True), paths)
        if "cached" in only:
            res["ours_cached"] = ours(table, cached_epochs=3)
        print(f"round {r + 1}: load {os.getloadavg()[0]:.2f}")
        for k, v in res.items():
            summary.setdefault(k, []).append(v)
        a = res.get("authors")
        if a:
            for k in ("ours", "ours_fast", "ours_cached"):
                if k in res:
                    print(f"  ratio {k}/authors = {res[k] / a:.2f}x")
        full = [v for k, v in res.items() if k.startswith("decode_") and "fast" not in k and "reduced" not in k and "draft" not in k]
        if full and "ours" in res:
            print(f"  ratio ours/fastest full-resolution decode = {res['ours'] / max(full):.2f}x")
        red = [v for k, v in res.items() if k.startswith("decode_") and ("fast_tf" in k or "reduced" in k or "draft" in k)]
        if red and "ours_fast" in res:
            print(f"  ratio ours_fast/fastest reduced-scale decode = {res['ours_fast'] / max(red):.2f}x")
    if args.rounds > 1:
        med = {k: float(np.median(v)) for k, v in summary.items()}
        print(f"median over {args.rounds} rounds: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
        a = med.get("authors")
        for k in ("ours", "ours_fast", "ours_cached"):
            if a and k in med:
                print(f"  median ratio {k}/authors = {med[k] / a:.2f}x")
        if "decode_tf_exact" in med and "ours" in med:
            print(f"  median ratio ours/decode_tf_exact = {med['ours'] / med['decode_tf_exact']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
