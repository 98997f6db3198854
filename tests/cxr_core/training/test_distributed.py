"""Data parallelism across processes, mixed precision and XLA: same results within stated tolerances.

- MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 (TF_CONFIG, free ports, bounded
  timeouts) train the same tiny model on the same data for 2 epochs; the result must equal one
  worker's with the same global batch within ``MULTI_WORKER_ATOL`` (the gradients of 2 x 3 images
  all-reduced equal those of one batch of 6 up to float32 summation order).
- CoroNet under ``mixed_bfloat16``: softmax output layer computes in float32; probabilities agree
  with float32 within ``BF16_ATOL``. With ``jit_compile=True`` (XLA) within ``XLA_ATOL``.

Keras 3 (3.15) cannot ``fit`` under a plain ``tf.distribute.MultiWorkerMirroredStrategy`` (keras-team/keras
#20585: its trainer calls ``strategy.reduce`` on nested batches and with ``axis=0`` on scalar metrics);
:func:`cxr_core.training.fit.make_strategy` must return a strategy that works around it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # subprocesses: two workers, XLA and bfloat16 runs

REPO = Path(__file__).resolve().parents[3]

MULTI_WORKER_ATOL = 1e-4  # probabilities after 8 Adam steps (lr 1e-2), float32
BF16_ATOL = 5e-2  # probabilities, logits of std 2; bfloat16 keeps 8 mantissa bits (measured max 0.020)
BF16_FEATURE_RTOL = 3e-2  # relative L2 error of the flattened Xception features (measured 0.009)
XLA_ATOL = 1e-5  # XLA fuses and reorders float32 arithmetic only (measured max 2.7e-6)

WORKER = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    import tensorflow as tf
    import keras
    from tests.cxr_core.training.test_training import _tiny_model, _data, _train_cfg
    from cxr_core.training.fit import fit_split, make_strategy
    strategy = make_strategy(sys.argv[3])
    keras.utils.set_random_seed(5)
    res = fit_split(_tiny_model, _data, _data, sys.argv[2], _train_cfg(epochs=2), strategy=strategy)
    model = _tiny_model()
    model.load_weights(res.weights_path)
    x = next(iter(_data(0)))[0]
    print("RESULT" + json.dumps({"replicas": strategy.num_replicas_in_sync,
                                 "pred": model.predict(x, verbose=0).tolist()}), flush=True)
    """
)


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _result(stdout: str) -> dict:
    assert "RESULT" in stdout, stdout[-2000:]
    return json.loads(stdout.split("RESULT", 1)[1].splitlines()[0])


def _env(extra: dict) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def test_two_worker_processes_train_like_one(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(REPO), str(tmp_path / f"worker{index}"), "multi_worker"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env({"TF_CONFIG": tf_config}),
        ))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            hint = ("Keras 3 fit under MultiWorkerMirroredStrategy (keras-team/keras#20585): make_strategy must "
                    "return a strategy whose reduce() maps over nested values and uses axis=None for scalars\n"
                    if "PerReplica" in err or "Invalid reduction dimension" in err else "")
            assert proc.returncode == 0, hint + err[-3000:]
            outputs.append(_result(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    single = subprocess.run(
        [sys.executable, "-c", WORKER, str(REPO), str(tmp_path / "single"), "default"],
        capture_output=True, text=True, timeout=240, env=_env({}),
    )
    assert single.returncode == 0, single.stderr[-3000:]
    reference = _result(single.stdout)
    assert [o["replicas"] for o in outputs] == [2, 2] and reference["replicas"] == 1
    ref = np.array(reference["pred"])
    for o in outputs:
        np.testing.assert_allclose(np.array(o["pred"]), ref, atol=MULTI_WORKER_ATOL)
    # and training moved the weights: the prediction is not the untrained one
    assert np.abs(ref - 1 / 3).max() > 1e-3


PRECISION = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import keras
    from coronet_tf.model import build_coronet
    from cxr_core.training.precision import set_precision
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(4, 71, 71, 3)).astype("float32")
    keras.utils.set_random_seed(1)
    ref_model = build_coronet(num_classes=4, input_shape=(71, 71, 3))
    # Untrained Xception features are ~1e-5, so the softmax would be flat (0.25 each) and compare
    # nothing: scale the last kernel so that the float32 logits have a standard deviation of 2.
    head = keras.Model(ref_model.inputs, ref_model.get_layer("dense").output)
    h = head.predict(x, verbose=0)
    last = ref_model.get_layer("dense_1")
    kernel, bias = last.get_weights()
    last.set_weights([kernel * (2.0 / float(np.std(h @ kernel))), bias])
    weights = ref_model.get_weights()
    features = keras.Model(ref_model.inputs, ref_model.get_layer("flatten").output)
    out = {"float32": ref_model.predict(x, verbose=0).tolist(), "f32_feat": features.predict(x, verbose=0).tolist()}
    ref_model.compile(jit_compile=True)
    out["xla"] = ref_model.predict(x, verbose=0).tolist()
    set_precision("mixed_bfloat16")
    model = build_coronet(num_classes=4, input_shape=(71, 71, 3))
    model.set_weights(weights)
    pred = model.predict(x, verbose=0)
    out["bf16"] = pred.tolist()
    out["bf16_out_dtype"] = str(pred.dtype)
    out["bf16_feat"] = keras.Model(model.inputs, model.get_layer("flatten").output).predict(x, verbose=0).astype("float32").tolist()
    out["layer_dtypes"] = {l.name: [l.compute_dtype, l.variable_dtype] for l in model.layers}
    print("RESULT" + json.dumps(out))
    """
)


def test_coronet_mixed_bfloat16_and_xla_agree_with_float32():
    proc = subprocess.run([sys.executable, "-c", PRECISION, str(REPO)], capture_output=True, text=True,
                          timeout=300, env=_env({}))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = _result(proc.stdout)
    ref = np.array(out["float32"])
    dtypes = out["layer_dtypes"]
    assert dtypes["dense_1"] == ["float32", "float32"], "the softmax must compute in float32"
    assert dtypes["dense"] == ["bfloat16", "float32"], "hidden layers compute in bfloat16, variables stay float32"
    assert out["bf16_out_dtype"] == "float32"
    np.testing.assert_allclose(np.array(out["xla"]), ref, atol=XLA_ATOL)
    f32_feat, bf16_feat = np.array(out["f32_feat"]), np.array(out["bf16_feat"])
    assert np.linalg.norm(bf16_feat - f32_feat) / np.linalg.norm(f32_feat) < BF16_FEATURE_RTOL
    bf16 = np.array(out["bf16"])
    assert np.ptp(ref, axis=1).min() > 0.05, "the float32 probabilities are not flat (the test compares something)"
    np.testing.assert_allclose(bf16.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(bf16, ref, atol=BF16_ATOL)
