"""Where the time goes: single-thread cost per image of each step, ours and the authors' (RESULTS.md).

    python benchmarks/bench_costs.py /tmp/cxr-bench-data

Keras ``load_img`` (PIL decode + convert + nearest resize) versus our exact and fast decode + resize,
per file type; Keras ``random_transform`` + ``standardize`` (SciPy) per image; our batched augmentation
per image (batch of 10, gray and colour paths); the authors' inference loop per image split into
``cv2.imread``, ``skimage`` resize and one-image ``model.predict``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_pipeline import AUTHORS_ARGS, coronet_augment, image_files  # noqa: E402


def per_item(fn, items, reps: int = 2) -> float:
    """Best-of-``reps`` milliseconds per item."""
    fn(items[0])
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        best = min(best, (time.perf_counter() - t0) / len(items) * 1000)
    return best


def main(argv=None) -> int:
    from keras_preprocessing.image import ImageDataGenerator, img_to_array, load_img

    from cxr_core.data.augment.keras2 import apply_transform, sample_transform_params
    from cxr_core.data.decode.images import decode_resize_to_uint8_rgb

    root = Path((argv or sys.argv[1:])[0])
    files = image_files(root)
    jp = [str(f) for f in files if f.suffix != ".png"][::12][:40]
    pn = [str(f) for f in files if f.suffix == ".png"][:15]
    sig = [tf.TensorSpec([], tf.string)]
    exact = tf.function(lambda c: decode_resize_to_uint8_rgb(c, (150, 150), "nearest"), input_signature=sig)
    fast = tf.function(lambda c: decode_resize_to_uint8_rgb(c, (150, 150), "nearest", fast_jpeg_decode=True),
                       input_signature=sig)
    print("single thread, ms per image (best of 2):")
    for name, fs in (("JPEG", jp), ("PNG", pn)):
        k = per_item(lambda f: img_to_array(load_img(f, target_size=(150, 150))), fs)
        e = per_item(lambda f: exact(tf.io.read_file(f)).numpy(), fs)
        q = per_item(lambda f: fast(tf.io.read_file(f)).numpy(), fs)
        print(f"  {name}: keras load_img {k:.1f} | ours exact decode+resize {e:.1f} | ours fast_jpeg_decode {q:.1f}")
    gen = ImageDataGenerator(**AUTHORS_ARGS)
    x = img_to_array(load_img(jp[0], target_size=(150, 150)))
    t = per_item(lambda i: gen.standardize(gen.random_transform(x, seed=i)), list(range(50)))
    print(f"  keras random_transform + standardize (SciPy, 150x150x3): {t:.2f}")
    spec = coronet_augment()

    @tf.function
    def augment(batch, seed):
        params = sample_transform_params(spec, (150, 150), seed, batch_size=10)
        return apply_transform(tf.cast(batch, tf.float32), params, spec)

    rng = np.random.default_rng(0)
    gray = tf.constant(np.repeat(rng.integers(0, 255, (10, 150, 150, 1)), 3, -1).astype("uint8"))
    color = tf.constant(rng.integers(0, 255, (10, 150, 150, 3)).astype("uint8"))
    seeds = [tf.constant([1, i], tf.int64) for i in range(40)]
    for name, batch in (("gray", gray), ("colour", color)):
        ms = per_item(lambda s: augment(batch, s).numpy(), seeds) / 10
        print(f"  ours augmentation per image ({name} batch of 10): {ms:.2f}")

    import cv2
    from skimage.transform import resize

    from coronet_tf.model import build_coronet

    model = build_coronet(num_classes=4, input_shape=(150, 150, 3))
    model.predict(np.zeros((1, 150, 150, 3)), verbose=0)
    parts = {"imread": 0.0, "skimage resize": 0.0, "predict one image": 0.0}
    chosen = files[::30][:20]
    for p in chosen:
        t0 = time.perf_counter()
        img = cv2.imread(str(p)) / 255
        t1 = time.perf_counter()
        img = resize(img, (150, 150, 3))
        t2 = time.perf_counter()
        model.predict(img.reshape(1, 150, 150, 3), verbose=0)
        t3 = time.perf_counter()
        parts["imread"] += t1 - t0
        parts["skimage resize"] += t2 - t1
        parts["predict one image"] += t3 - t2
    print("  authors' inference loop: " + ", ".join(f"{k} {v / len(chosen) * 1000:.0f}" for k, v in parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
