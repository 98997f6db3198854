"""Training does not wait for data (target 4): CoroNet step time, real pipeline versus in-memory batches.

    python benchmarks/bench_train_step.py /tmp/cxr-bench-data [--steps 100]

CoroNet at smoke size (71x71, batch 4, Adam, authors_code augmentation, weights=None), one model,
one process. Three feeds of the same images, alternated:

- ``memory``: the batches of one pass of the real pipeline, materialised beforehand and fed back from
  memory (``Dataset.from_tensor_slices`` of the stacked arrays, batched): the data costs nothing;
- ``pipeline``: the real pipeline (read, decode full-size files, resize, augment) with no cache;
- ``pipeline_cached``: the same with ``cache=True``, after one pass has filled the cache;
- ``pipeline_fast_jpeg``: no cache, ``fast_jpeg_decode=True`` (opt-in reduced-scale JPEG decoding).

Reported: the mean step time over ``--steps`` steps (the time between consecutive ends of steps,
after 5 warm-up steps), and the ratio to ``memory``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

from bench_pipeline import coronet_augment, machine, table_for  # noqa: E402

SIZE = (71, 71)
BATCH = 4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    from coronet_tf.model import build_coronet
    from cxr_core.data.pipeline import PipelineSpec, build_dataset

    table = table_for(args.data)
    for p in table.frame["path"]:
        Path(p).read_bytes()
    print(f"machine: {machine()}")
    keras.utils.set_random_seed(0)
    model = build_coronet(num_classes=len(table.class_names), input_shape=(*SIZE, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy", metrics=["accuracy"])

    def pipeline(cache: bool, fast: bool = False):
        spec = PipelineSpec(SIZE, "nearest", "rescale01", coronet_augment(), cache=cache, fast_jpeg_decode=fast)
        return build_dataset(table, spec, batch_size=BATCH, shuffle=True, augment=True, seed=3, repeat=True)

    n_batches = args.steps + 10
    batches = list(pipeline(False).take(n_batches))
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    memory = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(BATCH).repeat().prefetch(2)
    cached = pipeline(True)
    for _ in cached.take(len(table) // BATCH + 1):  # fill the cache (one pass)
        pass

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    def step_time(ds) -> float:
        clock = Clock()
        model.fit(ds, steps_per_epoch=args.steps + 5, epochs=1, verbose=0, callbacks=[clock], shuffle=False)
        ends = np.array(clock.ends[4:])
        return float(np.diff(ends).mean())

    step_time(memory)  # trace and warm up
    step_time(pipeline(False))
    ratios = []
    for r in range(args.rounds):
        res = {}
        feeds = (("memory", memory), ("pipeline", pipeline(False)), ("pipeline_cached", cached),
                 ("pipeline_fast_jpeg", pipeline(False, fast=True)))
        for name, ds in feeds:
            res[name] = step_time(ds)
            print(f"  {name:18s} {res[name] * 1000:7.1f} ms/step  (load {os.getloadavg()[0]:.2f})", flush=True)
        for name in ("pipeline", "pipeline_cached", "pipeline_fast_jpeg"):
            print(f"round {r + 1}: {name}/memory = {res[name] / res['memory']:.3f}x")
        ratios.append([res[k] / res["memory"] for k in ("pipeline", "pipeline_cached", "pipeline_fast_jpeg")])
    med = np.median(np.array(ratios), axis=0)
    print(f"median over {args.rounds} rounds: pipeline/memory = {med[0]:.3f}x, pipeline_cached/memory = {med[1]:.3f}x, "
          f"pipeline_fast_jpeg/memory = {med[2]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
