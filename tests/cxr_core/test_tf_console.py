"""A quiet console: TensorFlow's C++ start-up lines and retracing warnings are hidden, real errors are not."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_core import tf_console

REPO = Path(__file__).resolve().parents[2]

#: What TensorFlow 2.21 printed on every command before (CPU machine, no CUDA driver).
TF_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1796026498.112733   16434 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n",
    "I0000 00:00:1796026498.113009   16434 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n",
    "I0000 00:00:1796026540.438080   17560 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.\n",
]
#: Any line TensorFlow's C++ logging writes (absl format), or its start-up notices.
TF_LINE = re.compile(r"^([IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|WARNING: All log messages before absl|"
                     r"To enable the following instructions)|oneDNN custom operations|cuda drivers|cuInit")


def test_start_up_lines_are_noise_and_other_lines_are_not():
    assert all(tf_console.is_noise(line) for line in TF_LINES)
    for line in ("Traceback (most recent call last):\n", "ImportError: libcudart.so.12: cannot open\n",
                 "[12:00:01] fold 0: train 72, validation 24\n",
                 "E0000 00:00:1796026513.373280   16434 some_op.cc:52] a real C++ error\n"):
        assert not tf_console.is_noise(line), line


def test_filtered_stderr_drops_the_noise_and_writes_the_rest_back(capfd):
    with tf_console.filtered_stderr():
        for line in TF_LINES:
            os.write(2, line.encode())
        os.write(2, b"a real problem\n")
    err = capfd.readouterr().err
    assert err == "a real problem\n"


def test_retracing_warnings_are_dropped_other_tensorflow_warnings_kept(monkeypatch, caplog):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")  # restored after the test
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    tf_logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(tf_logger, "filters", list(tf_logger.filters))
    tf_console.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        tf_logger.warning("5 out of the last 5 calls to <function f at 0x7f> triggered tf.function retracing. "
                          "Tracing is expensive ...")
        tf_logger.warning("something else")
    assert [r.getMessage() for r in caplog.records if r.name == "tensorflow"] == ["something else"]


def _run(args: list[str], env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_version_and_a_command_print_no_tensorflow_lines():
    version = _run(["-m", "cxr_core", "--version"])
    assert version.returncode == 0, version.stderr
    lines = version.stdout.splitlines()
    assert lines[0].startswith("covid-cxr-tf ") and re.search(r"TensorFlow 2\.\d+", lines[1])
    assert re.search(r"Keras 3\.\d+", lines[1]) and lines[2].startswith("device: ")
    assert ("GPU 0:" in lines[2]) or ("CPU only" in lines[2])
    assert not [l for l in version.stderr.splitlines() if TF_LINE.search(l)], version.stderr

    # A command that imports TensorFlow and Keras, initialises the device and builds a model.
    summary = _run(["-m", "cxr_core.cli.main", "summary", "--model", "coronet", "--set", "preprocess.image_size=[71,71]"])
    assert summary.returncode == 0, summary.stderr
    assert "non-trainable" in summary.stdout
    assert not [l for l in summary.stderr.splitlines() if TF_LINE.search(l)], summary.stderr

    verbose = _run(["-m", "cxr_core", "--verbose", "--version"])
    assert verbose.returncode == 0 and TF_LINE.search(verbose.stderr), "--verbose shows TensorFlow's lines"


def test_keras_input_structure_warning_is_said_once_in_our_words(monkeypatch):
    import logging
    import warnings

    from cxr_core import tf_console
    from tests.log_capture import captured_logs

    passed_on = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kwargs: passed_on.append(str(message)))
    tf_console.explain_input_structure_warning()
    tf_console.explain_input_structure_warning()  # twice: wrapped once
    with captured_logs("cxr_core", logging.INFO) as lines:
        for _ in range(3):
            warnings.showwarning(UserWarning(f"{tf_console.INPUT_STRUCTURE}.\nExpected: ['image']"), UserWarning,
                                 "functional.py", 253)
        warnings.showwarning(UserWarning("another warning"), UserWarning, "x.py", 1)
    assert lines == [tf_console.INPUT_STRUCTURE_NOTE]
    assert passed_on == ["another warning"]
