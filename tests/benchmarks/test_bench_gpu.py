"""benchmarks/bench_gpu.py --smoke: the GPU benchmark's code runs on CPU and writes its tables."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"


@pytest.fixture(scope="module")
def gpu_report():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("gpu_report")
    finally:
        sys.path.remove(str(BENCH))


def test_protocol_wall_time_follows_the_counts(gpu_report):
    """CoroNet: 4 folds x 80 epochs x (938 train / 100 img/s + 313 val / 200 img/s) + decoding + warm-up."""
    from gpu_cases import PROTOCOLS

    coronet = PROTOCOLS[0]
    assert (coronet.folds, coronet.n_train + coronet.n_val, coronet.phases[0][1]) == (4, 1251, 80)  # 1,251 [S4]
    results = gpu_report.Results([gpu_report.Row("coronet", "float32", 10, train_ips=100.0, predict_ips=200.0,
                                                 first_epoch_ips=50.0, warmup_s=30.0)])
    expected = 4 * (80 * (938 / 100 + 313 / 200) + (938 / 50 - 938 / 100) + 30)
    assert gpu_report.protocol_seconds(coronet, results, "float32", {"coronet": 10}) == pytest.approx(expected)
    assert gpu_report.protocol_seconds(coronet, results, "mixed_float16", {"coronet": 10}) is None
    corona = PROTOCOLS[2]  # phase 1 has no validation pass
    results.rows += [gpu_report.Row("coronanet_p1", "float32", 12, train_ips=10.0),
                     gpu_report.Row("coronanet_p2", "float32", 12, train_ips=20.0, predict_ips=40.0)]
    got = gpu_report.protocol_seconds(corona, results, "float32", {"coronanet_p1": 12, "coronanet_p2": 12})
    assert got == pytest.approx(990 * 16546 / 10 + 990 * (16546 / 20 + 7812 / 40))


def measurement_rows(text: str) -> list[str]:
    """The data rows of the "## Measurements" table."""
    section = text.split("## Measurements", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| case ")]


@pytest.mark.slow
def test_smoke_run_writes_every_table(tmp_path):
    out = tmp_path / "RESULTS-gpu.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_gpu.py"), "--smoke", "--cases", "coronet,coronanet_p1", "--out", str(out)],
        capture_output=True, text=True, timeout=1500, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "SMOKE RUN" in text and "bench_gpu.py --smoke" in text and "device: none (CPU only)" in text
    rows = measurement_rows(text)
    measured = [r for r in rows if "error" not in r and "skipped" not in r]
    assert not [r for r in rows if "error" in r], rows
    # CoroNet: batch 2 and 4 on the host, and batch 2 with augment.placement: device; CORONA-Net phase 1: 2 and 4
    assert len([r for r in measured if "| host |" in r or "| device |" in r]) == 5, rows
    assert any("| device |" in r for r in measured)
    for r in measured:
        cells = [c.strip() for c in r.split("|")[1:-1]]
        assert float(cells[4]) > 0, r  # training img/s
        assert cells[11] == "n/a", r  # no device memory on CPU
    protocol = next(line for line in text.splitlines() if line.startswith("| CoroNet 4-class, 4-fold CV"))
    assert re.search(r"\| [\d.]+ (h|min) \|", protocol), protocol
    assert "| CoroNet 150 px, batch 10, Colab K80" in text or "K80" in text
