#!/usr/bin/env bash
# All speed benchmarks of benchmarks/RESULTS.md, one after another (never two at once: 2 cores).
#   bash benchmarks/run_all.sh [DATA_DIR]      (default /tmp/cxr-bench-data; built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DATA=${1:-/tmp/cxr-bench-data}
export TF_CPP_MIN_LOG_LEVEL=3
quiet() { grep --line-buffered -v "^W0000\|^I0000\|^E0000\|WARNING: All log\|^To enable\|UserWarning\|data_adapter\|retracing"; }
$PY benchmarks/make_bench_data.py "$DATA"
echo "== input pipeline (targets 1-3)"; $PY benchmarks/bench_pipeline.py "$DATA" --rounds 2 2>&1 | quiet
echo "== input pipeline, main figures"; $PY benchmarks/bench_pipeline.py "$DATA" --rounds 3 --only authors,ours,ours_fast,decode_exact,cached 2>&1 | quiet
echo "== training step (target 4)";    $PY benchmarks/bench_train_step.py "$DATA" --steps 80 --rounds 3 2>&1 | quiet
echo "== predict (target 5)";          $PY benchmarks/bench_predict.py "$DATA" --n 200 2>&1 | quiet
echo "== where the time goes";         $PY benchmarks/bench_costs.py "$DATA" 2>&1 | quiet
