"""What ``augment.placement`` costs on this CPU: host (tf.data) versus device (inside the step).

    python benchmarks/bench_augment_placement.py [--rounds 3]

CoroNet's augmentation [CN] at 150x150, batch 10, on the 192 cxr4-mini X-rays with
``preprocess.cache: true`` (the cache is filled before timing; each figure is one pass = 19 full
batches, best of ``--rounds``):

- ``host``: ``build_dataset(..., augment=True)`` batches (augmented + scaled in tf.data, parallel map);
- ``device serve``: the same pipeline with ``augment_placement="device"``: the uint8 batches and
  their transform parameters (what the CPU still does with ``placement: device``);
- ``device apply``: the training step's share, :class:`DeviceAugmentation` on those raw batches, one
  batch after another as the step runs it, without and with XLA (``tf.function(jit_compile=True)``);
- ``device serve + apply``: both, one after the other (on a CPU the "device" is the same cores).

Also prints how far the two placements' batches are apart (max |diff| on the 0..1 scale).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SIZE = (150, 150)
BATCH = 10


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "cxr4-mini")
    args = ap.parse_args(argv)

    import tensorflow as tf

    from bench_pipeline import coronet_augment, machine
    from gpu_cases import bench_table
    from cxr_core.data.pipeline import PipelineSpec, build_dataset, device_augmentation

    table = bench_table(args.data, 4)
    n_batches = len(table) // BATCH
    n = n_batches * BATCH

    def pipeline(placement: str):
        spec = PipelineSpec(SIZE, "nearest", "rescale01", coronet_augment(), cache=True, augment_placement=placement)
        ds = build_dataset(table, spec, batch_size=BATCH, shuffle=True, augment=True, seed=3, drop_remainder=True,
                           repeat=True)
        for _ in ds.take(n_batches + 1):  # fill the cache
            pass
        return ds, spec

    host, _ = pipeline("host")
    device, spec = pipeline("device")
    aug = device_augmentation(spec)
    apply_plain = tf.function(aug)
    apply_xla = tf.function(aug, jit_compile=True)
    raw = [x for x, _ in device.take(n_batches)]
    for f in (apply_plain, apply_xla):
        f(raw[0]).numpy()  # trace / compile

    def drain(ds):
        for x, _ in ds.take(n_batches):
            pass

    def apply_all(f):
        for x in raw:
            f(x)
        f(raw[-1]).numpy()

    def serve_and_apply(f):
        for x, _ in device.take(n_batches):
            f(x)
        f(raw[-1]).numpy()

    print(f"machine: {machine()}; {len(table)} images, {n_batches} batches of {BATCH} at {SIZE[0]}x{SIZE[1]} per pass")
    best: dict[str, float] = {}
    for r in range(args.rounds):
        res = {
            "host (tf.data augments + scales)": timed(lambda: drain(host)),
            "device serve (uint8 + parameters)": timed(lambda: drain(device)),
            "device apply (in the step, no XLA)": timed(lambda: apply_all(apply_plain)),
            "device apply (in the step, XLA)": timed(lambda: apply_all(apply_xla)),
            "device serve + apply (no XLA)": timed(lambda: serve_and_apply(apply_plain)),
            "device serve + apply (XLA)": timed(lambda: serve_and_apply(apply_xla)),
        }
        print(f"round {r + 1}: " + " | ".join(f"{k} {n / v:.0f} img/s" for k, v in res.items())
              + f"  (load {os.getloadavg()[0]:.2f})", flush=True)
        for k, v in res.items():
            best[k] = min(best.get(k, np.inf), v)
    print(f"best of {args.rounds} (images/s; ms per batch of {BATCH}):")
    for k, v in best.items():
        print(f"  {k:38s} {n / v:8.0f} img/s  {1000 * v / n_batches:7.2f} ms/batch")

    host_same = build_dataset(table, PipelineSpec(SIZE, "nearest", "rescale01", coronet_augment(), cache=True),
                              batch_size=BATCH, shuffle=True, augment=True, seed=9)
    dev_same = build_dataset(table, spec, batch_size=BATCH, shuffle=True, augment=True, seed=9)
    diffs = [np.abs(apply_xla(d).numpy() - h.numpy()) for (h, _), (d, _) in zip(host_same, dev_same)]
    flat = np.concatenate([d.ravel() for d in diffs])
    print(f"host vs device batches, seed 9, one epoch of {len(table)} images: max |diff| {flat.max():.2e}, "
          f"mean {flat.mean():.2e} (0..1 scale; 1 grey level = {1 / 255:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
