"""Tables and the RESULTS-gpu.md file of bench_gpu.py: measured rows -> Markdown, protocol wall times,
ratios to published reference figures, and the description of the machine."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gpu_cases import CASES, PROTOCOLS, REFERENCES, Protocol


@dataclass
class Row:
    """One (case, precision, batch) measurement; None = not measured (or failed: ``note``)."""

    case: str
    precision: str
    batch: int
    placement: str = "host"
    train_ips: float | None = None  # real pipeline, cache filled
    memory_ips: float | None = None  # the same batches in memory
    first_epoch_ips: float | None = None  # pipeline with an empty cache (decoding)
    cached_epoch_ips: float | None = None
    warmup_s: float | None = None  # first epoch of the timing fit: trace + compile + warm-up
    predict_ips: float | None = None
    peak_gib: float | None = None
    note: str = ""

    @property
    def stall(self) -> float | None:
        if self.train_ips and self.memory_ips:
            return self.memory_ips / self.train_ips
        return None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def find(self, case: str, precision: str, batch: int | None = None, placement: str = "host") -> Row | None:
        for r in self.rows:
            if r.case == case and r.precision == precision and r.placement == placement and (batch is None or r.batch == batch):
                return r
        return None


def _f(v: float | None, fmt: str = "{:.0f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def measurement_table(results: Results) -> str:
    titles = {c.key: c.title for c in CASES}
    lines = ["| case | precision | batch | placement | train img/s (pipeline, cached) | in memory img/s | "
             "stall (memory/pipeline step) | epoch 1 (decode) img/s | cached epoch img/s | trace+warm-up s | "
             "predict img/s | peak device GiB | note |", "|" + "---|" * 13]
    for r in results.rows:
        lines.append(
            f"| {titles.get(r.case, r.case)} | {r.precision} | {r.batch} | {r.placement} | {_f(r.train_ips, '{:.1f}')} | "
            f"{_f(r.memory_ips, '{:.1f}')} | {_f(r.stall, '{:.2f}x')} | {_f(r.first_epoch_ips, '{:.1f}')} | "
            f"{_f(r.cached_epoch_ips, '{:.1f}')} | {_f(r.warmup_s, '{:.1f}')} | {_f(r.predict_ips, '{:.1f}')} | "
            f"{_f(r.peak_gib, '{:.2f}')} | {r.note} |")
    return "\n".join(lines)


def protocol_seconds(protocol: Protocol, results: Results, precision: str, preset_batch: dict[str, int]) -> float | None:
    """Estimated wall time of ``protocol``: per fold and phase, ``epochs`` x (training images at the
    cached-pipeline rate + validation images at the prediction rate), plus the first epoch's decoding
    and the trace/compile time; None when a needed figure is missing."""
    total = 0.0
    for key, epochs, validates in protocol.phases:
        r = results.find(key, precision, preset_batch.get(key))
        if r is None or not r.train_ips or (validates and not r.predict_ips):
            return None
        per_epoch = protocol.n_train / r.train_ips + (protocol.n_val / r.predict_ips if validates else 0.0)
        decode = protocol.n_train / r.first_epoch_ips - protocol.n_train / r.train_ips if r.first_epoch_ips else 0.0
        total += protocol.folds * (epochs * per_epoch + max(decode, 0.0) + (r.warmup_s or 0.0))
    return total


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    h = seconds / 3600
    return f"{h:.1f} h" if h >= 1 else f"{seconds / 60:.1f} min"


def protocol_table(results: Results, preset_batch: dict[str, int], precisions) -> str:
    lines = ["| protocol | " + " | ".join(precisions) + " | counts and source |",
             "|---|" + "---|" * len(precisions) + "---|"]
    for p in PROTOCOLS:
        cells = [_hms(protocol_seconds(p, results, prec, preset_batch)) for prec in precisions]
        lines.append(f"| {p.name} | " + " | ".join(cells) + f" | {p.source} |")
    return "\n".join(lines)


def reference_table(results: Results) -> str:
    """Our best training throughput per case and precision over each published figure."""
    lines = ["| case | ours: precision, batch, img/s | reference | reference img/s | ratio |", "|---|---|---|---|---|"]
    for case in CASES:
        for ref, precision, ref_ips, only in REFERENCES:
            rows = [r for r in results.rows if r.case == case.key and r.precision == precision
                    and r.placement == "host" and r.train_ips]
            if not rows or only not in (None, case.key):
                continue
            best = max(rows, key=lambda r: r.train_ips)
            lines.append(f"| {case.title} | {precision}, {best.batch}, {best.train_ips:.1f} | {ref} | {ref_ips:.0f} | "
                         f"{best.train_ips / ref_ips:.2f} |")
    return "\n".join(lines)


def machine_description() -> list[str]:
    import keras
    import tensorflow as tf

    out = [f"- host: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores"]
    build = tf.sysconfig.get_build_info()
    out.append(f"- TensorFlow {tf.__version__} (CUDA {build.get('cuda_version', 'n/a')}, cuDNN "
               f"{build.get('cudnn_version', 'n/a')}), Keras {keras.__version__}")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        out.append("- device: none (CPU only)")
        return out
    details = tf.config.experimental.get_device_details(gpus[0])
    out.append(f"- device: {details.get('device_name', 'GPU')} (compute capability "
               f"{details.get('compute_capability', 'n/a')}), {len(gpus)} visible")
    if shutil.which("nvidia-smi"):
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            out.append(f"- nvidia-smi: {smi}")
        except (OSError, subprocess.SubprocessError) as exc:
            out.append(f"- nvidia-smi failed: {exc}")
    return out


def render(results: Results, *, command: str, precisions, preset_batch: dict[str, int], notes: list[str],
           elapsed_s: float, smoke: bool) -> str:
    head = "# GPU speed: the three families on one device" + (" (SMOKE RUN on CPU: not figures)" if smoke else "")
    parts = [
        head, "",
        "Written by `benchmarks/bench_gpu.py`. Command:", "", f"    {command}", "",
        *machine_description(), f"- whole run: {elapsed_s:.0f} s", "",
        "## Measurements", "",
        "Training: `model.fit` of the project's models compiled by `cxr_core.training.fit.compile_model`, on "
        "`cxr_core.data.pipeline.build_dataset` batches of the benchmark images (real chest X-rays at "
        "1000-2500 px, `benchmarks/make_bench_data.py`), the preset's augmentation and scaling, "
        "`preprocess.cache: true`. `train img/s`: cache filled; `in memory`: the same batches "
        "materialised (no decoding, augmentation or scaling; Keras still copies each batch to the device "
        "ahead of the step); `stall` = pipeline step time / in-memory step time (1.00x = the device "
        "never waits). `epoch 1`: a fresh pipeline whose cache is empty (every file decoded); "
        "`cached epoch`: the next epoch. Predict: `model.predict` on in-memory images.", "",
        measurement_table(results), "",
        "## Wall time of the published protocols on this device (estimate from the rows above)", "",
        "Per fold and phase: epochs x (training images / cached-pipeline rate at the preset batch + "
        "validation images / prediction rate) + the first epoch's decoding + trace/compile. Early "
        "stopping, checkpoint writing and the final test prediction are left out.", "",
        protocol_table(results, preset_batch, precisions), "",
        "## Against published reference figures", "",
        "Ratio = our best training img/s in that precision / the published figure. The ResNet-50 "
        "figures are ImageNet 224 px training with NVIDIA's tuned input pipeline (DALI) on other GPUs: "
        "a yardstick for the device and the framework, not for these models (other networks, input "
        "sizes and batches: CVR-Net runs a ResNet-50 and an Xception per image, CORONA-Net a VGG16-BN).", "",
        reference_table(results), "",
    ]
    if notes:
        parts += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(parts)


def write(path: Path, text: str) -> None:
    from cxr_core.atomic_files import atomic_write_text

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
