"""How long each published protocol takes on one GPU: training and prediction speed of the four cases.

    python benchmarks/make_bench_data.py /tmp/cxr-bench-data          # 600 real X-rays at full size
    python benchmarks/bench_gpu.py --data /tmp/cxr-bench-data         # one GPU, < 8 minutes
    python benchmarks/bench_gpu.py --smoke --out /tmp/gpu-smoke.md    # the same code on CPU, tiny

For each case (CoroNet 150 px, CVR-Net 224 px, CORONA-Net 224 px phase 2 and phase 1; built from
``experiments/*.yaml`` with the project's builders, pipeline and training step, see gpu_cases.py), in
float32, ``mixed_float16`` and ``mixed_float16`` + XLA, at the preset's batch and a large batch:
training images/s with the real pipeline (cache filled) and with the same batches in memory (their
ratio is the input stall), the first epoch (decoding) and a cached epoch, prediction images/s and
peak device memory; with ``augment.placement: device`` too for the cases that augment. From these,
the wall time of each published protocol on this device, and ratios to published reference figures.
Writes ``--out`` (default benchmarks/RESULTS-gpu.md) and prints the tables.

A time budget (``--budget-s``, default 400 s) stops starting new measurements once spent (skipped
rows say so), so a slow device still gets a file. A failing measurement is recorded with its error and
the run goes on. The full run refuses to start without a GPU; ``--smoke`` runs on CPU (tiny inputs
and batches 2/4, 8 cxr4-mini images, 1-2 steps per measurement, float32 unless ``--precisions``); on
2 CPU cores most of its time is tracing the models (about 30-60 s per case).

TF op determinism is off unless ``--deterministic``: with it (the presets' ``train.deterministic:
true``) Keras 3 silently trains without XLA, so the ``+xla`` rows would measure nothing new.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_cases import CASES, REPO, Case, bench_table, case_config, case_model, num_classes  # noqa: E402
from gpu_measure import (  # noqa: E402
    PRECISIONS, epoch_seconds, fill_cache, gpu_name, in_memory, peak_memory_gib, precision_mode,
    predict_images_per_s, reset_peak_memory, train_timing,
)
from gpu_report import Results, Row, render, write  # noqa: E402

DEFAULT_OUT = REPO / "benchmarks" / "RESULTS-gpu.md"
SMOKE_DATA = REPO.parent / "shared" / "data" / "cxr4-mini"


@dataclasses.dataclass(frozen=True)
class Plan:
    precisions: tuple[str, ...]
    steps: int  # timed steps per measurement at the preset batch
    large_steps: int
    limit: int | None  # images of the data set used
    deadline: float
    batches: tuple[int, int] | None = None  # (preset, large) instead of the cases' (smoke runs)
    deterministic: bool = False


def _pipeline(cfg, table, batch: int, *, placement: str = "host", seed: int = 1):
    from cxr_core.data.pipeline import build_dataset
    from cxr_core.protocol.experiment_data import pipeline_spec

    spec = dataclasses.replace(pipeline_spec(cfg), cache=True, augment_placement=placement)
    return build_dataset(table, spec, batch_size=batch, shuffle=True, augment=cfg.augment.enabled, seed=seed,
                         repeat=True), spec


def _as_target(ds, target_is_input: bool):
    return ds.map(lambda x, y: (x, x)) if target_is_input else ds


def measure_batch(case: Case, cfg, model, table, batch: int, steps: int, precision: str, *, epochs_too: bool,
                  target_is_input: bool) -> Row:
    row = Row(case.key, precision, batch)
    n = len(table)
    reset_peak_memory()
    ds, _ = _pipeline(cfg, table, batch)
    ds = _as_target(ds, target_is_input)
    memory, xs = in_memory(ds, max(1, min(steps, n // batch)))
    fill_cache(ds, n, batch)
    t_mem = train_timing(model, memory, steps=steps, batch=batch)
    row.memory_ips, row.warmup_s = t_mem.images_per_s, t_mem.first_epoch_s
    row.train_ips = train_timing(model, ds, steps=steps, batch=batch).images_per_s
    row.predict_ips = predict_images_per_s(model, xs, batch=batch, steps=steps)
    if epochs_too:  # a fresh pipeline: epoch 1 decodes every file into the cache, epoch 2 reads it
        fresh, _ = _pipeline(cfg, table, batch, seed=2)
        per_epoch = max(1, n // batch)
        first, second = epoch_seconds(model, _as_target(fresh, target_is_input), per_epoch, epochs=2)
        row.first_epoch_ips, row.cached_epoch_ips = per_epoch * batch / first, per_epoch * batch / second
    row.peak_gib = peak_memory_gib()
    return row


def measure_device_placement(case: Case, cfg, model, train_cfg, metrics, table, batch: int, steps: int,
                             precision: str, memory_ips: float | None) -> Row:
    from cxr_core.data.augment.device import with_device_augmentation
    from cxr_core.data.pipeline import device_augmentation
    from cxr_core.training.fit import compile_model

    row = Row(case.key, precision, batch, placement="device", memory_ips=memory_ips)
    reset_peak_memory()
    ds, spec = _pipeline(cfg, table, batch, placement="device")
    wrapped = with_device_augmentation(model, device_augmentation(spec))
    compile_model(wrapped, train_cfg, metrics=metrics)
    fill_cache(ds, len(table), batch)
    timing = train_timing(wrapped, ds, steps=steps, batch=batch)
    row.train_ips, row.warmup_s = timing.images_per_s, timing.first_epoch_s
    row.peak_gib = peak_memory_gib()
    return row


def run_case(case: Case, precision: str, plan: Plan, data: Path, smoke: bool, results: Results, log) -> None:
    import keras

    from cxr_core.training.fit import compile_model, seed_everything
    from cxr_core.training.precision import set_precision

    cfg = case_config(case, smoke=smoke)
    table = bench_table(data, num_classes(cfg), limit=plan.limit)
    policy, jit = precision_mode(precision)
    keras.backend.clear_session()
    gc.collect()
    set_precision(policy)
    seed_everything(0, plan.deterministic)
    build, loss, metrics, target_is_input = case_model(case, cfg)
    train_cfg = dataclasses.replace(cfg.train, loss=loss, jit_compile=jit, mixed_precision=policy)
    model = build()
    compile_model(model, train_cfg, learning_rate=float(cfg.train.optimizer.learning_rate), metrics=metrics)
    preset, large = plan.batches or (cfg.train.batch_size, case.large_batch)
    batches = [(preset, plan.steps, True), (large, plan.large_steps, False)]
    memory_ips = None
    for batch, steps, epochs_too in batches:
        if time.perf_counter() > plan.deadline:
            results.rows.append(Row(case.key, precision, batch, note="skipped: time budget spent"))
            continue
        try:
            row = measure_batch(case, cfg, model, table, batch, steps, precision, epochs_too=epochs_too,
                                target_is_input=target_is_input)
        except Exception as exc:  # one failing measurement must not cost the whole GPU run
            row = Row(case.key, precision, batch, note=f"error: {type(exc).__name__}: {str(exc)[:160]}")
        results.rows.append(row)
        memory_ips = row.memory_ips if epochs_too else memory_ips
        log(row)
    wants_device = cfg.augment.enabled and precision == plan.precisions[-1] and not target_is_input
    if wants_device and time.perf_counter() < plan.deadline:
        try:
            row = measure_device_placement(case, cfg, model, train_cfg, metrics, table, preset,
                                           plan.steps, precision, memory_ips)
        except Exception as exc:
            row = Row(case.key, precision, preset, placement="device",
                      note=f"error: {type(exc).__name__}: {str(exc)[:160]}")
        results.rows.append(row)
        log(row)
    set_precision(None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/cxr-bench-data"),
                    help="benchmark images (built by make_bench_data.py when missing)")
    ap.add_argument("--out", type=Path, default=None, help=f"Markdown file (default {DEFAULT_OUT}; smoke: not written)")
    ap.add_argument("--smoke", action="store_true", help="tiny run on CPU to check the script")
    ap.add_argument("--cases", default=",".join(c.key for c in CASES), help="comma-separated case keys")
    ap.add_argument("--precisions", default=None, help=f"comma-separated, from {PRECISIONS}")
    ap.add_argument("--budget-s", type=float, default=400.0, help="start no measurement after this many seconds")
    ap.add_argument("--deterministic", action="store_true",
                    help="enable TF op determinism as train.deterministic: true does (Keras then turns XLA off)")
    args = ap.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    t0 = time.perf_counter()

    if args.smoke:
        data, precisions = SMOKE_DATA, ("float32",)
        plan = Plan(precisions, steps=2, large_steps=1, limit=8, deadline=t0 + args.budget_s, batches=(2, 4),
                    deterministic=args.deterministic)
    else:
        if gpu_name() is None:
            print("bench_gpu.py: no GPU is visible to TensorFlow; use --smoke for the CPU check", file=sys.stderr)
            return 2
        from make_bench_data import build

        data, precisions = build(args.data), PRECISIONS
        plan = Plan(precisions, steps=30, large_steps=12, limit=None, deadline=t0 + args.budget_s,
                    deterministic=args.deterministic)
    if args.precisions:
        precisions = tuple(p.strip() for p in args.precisions.split(","))
        for p in precisions:
            precision_mode(p)
        plan = dataclasses.replace(plan, precisions=precisions)
    wanted = [c for c in CASES if c.key in args.cases.split(",")]
    if not wanted:
        print(f"--cases: none of {args.cases!r}; known: {[c.key for c in CASES]}", file=sys.stderr)
        return 2

    results = Results()
    log = lambda row: print(f"  {row.case:14s} {row.precision:18s} batch {row.batch:4d} {row.placement:6s} "  # noqa: E731
                            f"train {row.train_ips or 0:8.1f} img/s  memory {row.memory_ips or 0:8.1f}  "
                            f"predict {row.predict_ips or 0:8.1f}  {row.note}", flush=True)
    for case in wanted:
        for precision in plan.precisions:
            if time.perf_counter() > plan.deadline:
                results.rows.append(Row(case.key, precision, 0, note="skipped: time budget spent"))
                continue
            run_case(case, precision, plan, data, args.smoke, results, log)

    preset_batch = {c.key: (plan.batches[0] if plan.batches else case_config(c, smoke=args.smoke).train.batch_size)
                    for c in wanted}
    notes = [
        "TF op determinism " + ("ON (--deterministic, as train.deterministic: true): Keras turns jit_compile off "
                                "with it, so the +xla rows ran without XLA" if plan.deterministic else
                                "OFF. The presets set train.deterministic: true, with which Keras 3 silently runs "
                                "without XLA (keras/src/trainers/trainer.py, model_supports_jit): XLA needs "
                                "--set train.deterministic=false"),
    ]
    if args.smoke:
        notes.append("SMOKE RUN: CPU, tiny inputs, 8 cxr4-mini images, 1-2 steps per measurement; checks the "
                     "script, the numbers mean nothing.")
    text = render(results, command=command, precisions=plan.precisions, preset_batch=preset_batch, notes=notes,
                  elapsed_s=time.perf_counter() - t0, smoke=args.smoke)
    print(text)
    out = args.out or (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        write(out, text)
        print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
