"""``covid-cxr predict`` on a folder of 200 images versus the authors' per-image loop (target 5).

    python benchmarks/bench_predict.py /tmp/cxr-bench-data [--n 200]

The authors' inference [CN] (docs/PAPERS.md section 1.2): for each file ``cv2.imread`` (BGR), ``/255``,
``skimage.transform.resize`` to 150x150x3, ``model.predict`` on one image. Ours: ``covid-cxr predict
--model coronet --preset authors_code --weights W FOLDER`` (called in-process through
``cxr_core.cli.main.main``; it verifies the files, then batches of 32 through the tf.data pipeline).
Both sides build CoroNet (150x150, 4 classes) and load the same weights file; the timings include
that (about 2 s each) and are also given without it. Model weights are random (weights=None):
speed does not depend on them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import image_files, machine  # noqa: E402


def authors_loop(model_builder, weights: str, paths: list[Path]) -> tuple[float, float]:
    import cv2
    import numpy as np
    from skimage.transform import resize

    t0 = time.perf_counter()
    model = model_builder()
    model.load_weights(weights)
    t1 = time.perf_counter()
    preds = []
    for p in paths:
        img = cv2.imread(str(p))
        img = img / 255
        img = resize(img, (150, 150, 3))
        preds.append(model.predict(img.reshape(1, 150, 150, 3), verbose=0))
    t2 = time.perf_counter()
    assert len(preds) == len(paths) and np.isfinite(np.concatenate(preds)).all()
    return t2 - t0, t2 - t1


def ours(weights: str, folder: Path, extra: list[str]) -> float:
    from cxr_core.cli.main import main

    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(["predict", "--model", "coronet", "--preset", "authors_code", "--weights", weights,
                     str(folder), *extra])
    dt = time.perf_counter() - t0
    assert code == 0
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    import keras

    from coronet_tf.model import build_coronet

    files = image_files(args.data)
    step = max(1, len(files) // args.n)
    chosen = files[::step][: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i, p in enumerate(chosen):
            (folder / f"{i:04d}_{p.name}").symlink_to(p)
            p.read_bytes()
        n_png = sum(p.suffix == ".png" for p in chosen)
        print(f"machine: {machine()}")
        print(f"{len(chosen)} images ({n_png} PNG), CoroNet 150x150, 4 classes")

        def build():
            return build_coronet(num_classes=4, input_shape=(150, 150, 3))

        keras.utils.set_random_seed(0)
        weights = str(Path(tmp) / "coronet.weights.h5")
        build().save_weights(weights)
        ours(weights, folder, ["--no-verify"])  # warm-up: first graph traces
        for r in range(args.rounds):
            total_a, loop_a = authors_loop(build, weights, chosen)
            print(f"  authors loop: {total_a:6.1f} s ({len(chosen) / total_a:5.1f} img/s; loop alone {loop_a:.1f} s, "
                  f"{loop_a / len(chosen) * 1000:.0f} ms/img)  load {os.getloadavg()[0]:.2f}", flush=True)
            t_ours = min(ours(weights, folder, []) for _ in range(2))
            print(f"  covid-cxr predict: {t_ours:6.1f} s ({len(chosen) / t_ours:5.1f} img/s; best of 2)  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            t_nov = min(ours(weights, folder, ["--no-verify"]) for _ in range(2))
            print(f"  covid-cxr predict --no-verify: {t_nov:6.1f} s (best of 2)  load {os.getloadavg()[0]:.2f}", flush=True)
            print(f"round {r + 1}: ratio authors/ours = {total_a / t_ours:.2f}x (with file check), "
                  f"{total_a / t_nov:.2f}x (--no-verify)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
