"""Keep TensorFlow's start-up chatter off the ``covid-cxr`` console, and say what the software runs on.

Importing TensorFlow 2.21 on a machine without a GPU prints 7-11 lines of C++ logging before any
Python code can change a setting: ``WARNING: All log messages before absl::InitializeLog() ...``,
``oneDNN custom operations are on ...``, ``Could not find cuda drivers ...`` (twice each: two
shared libraries log them), then ``failed call to cuInit`` and the ``cpu_feature_guard`` notice when
the first device is set up; runs of several folds add ``triggered tf.function retracing`` warnings.
None of them is actionable for a user of this package.

:func:`quiet_tensorflow` (called by :func:`cxr_core.cli.main.main` before anything imports TensorFlow):

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow's C++ INFO, WARNING and ERROR lines after start-up;
  fatal errors still surface as Python exceptions). ``TF_ENABLE_ONEDNN_OPTS`` is left alone: it
  changes numerics, and the line announcing it is only INFO;
- wraps the first ``import tensorflow`` so that file descriptor 2 goes to a temporary file while the
  shared libraries load; afterwards the absl INFO/WARNING lines (:data:`NOISE`) are dropped and
  every other line is written to stderr unchanged, so a real error at import still shows;
- drops the ``tf.function retracing`` warnings of the ``tensorflow`` logger (a filter on that
  logger; its other warnings pass);
- says Keras' "The structure of `inputs` doesn't match the expected structure" warning once, in our
  words (:data:`INPUT_STRUCTURE_NOTE`): a functional model built on a one-element list of inputs and
  called with the tensor itself; Keras uses the same tensor, so no result changes.

With ``verbose=True`` nothing is hidden (``TF_CPP_MIN_LOG_LEVEL`` defaults to 0 then, unless set).
Library code never calls this: importing :mod:`cxr_core` changes no process-wide setting.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

#: Lines TensorFlow's C++ libraries print while loading that say nothing actionable: absl's
#: pre-initialisation notice and absl-formatted INFO / WARNING lines (``I0000 00:00:17.. 123 port.cc:153] ...``),
#: and the second line of the cpu_feature_guard notice.
NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ [\w./+-]+:\d+\] "),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."),
)
RETRACING = "triggered tf.function retracing"
INPUT_STRUCTURE = "The structure of `inputs` doesn't match the expected structure"
INPUT_STRUCTURE_NOTE = ("Keras noted that a model built on a list of one input was called with the input tensor "
                        "itself; it uses the same tensor, so no result changes (said once)")


def is_noise(line: str) -> bool:
    """Whether one line of stderr is TensorFlow start-up chatter (:data:`NOISE`)."""
    return any(p.match(line) for p in NOISE)


def quiet_tensorflow(verbose: bool = False) -> None:
    """Hide TensorFlow's C++ start-up lines and retracing warnings for this process (see the module
    docstring); with ``verbose`` only default ``TF_CPP_MIN_LOG_LEVEL`` to 0. Call it before
    TensorFlow is imported; afterwards only the retracing filter still takes effect."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    tf_logger = logging.getLogger("tensorflow")  # the logger tf.get_logger() returns
    if not any(isinstance(f, _RetracingFilter) for f in tf_logger.filters):
        tf_logger.addFilter(_RetracingFilter())
    explain_input_structure_warning()
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImportFinder())


def explain_input_structure_warning() -> None:
    """Replace Keras' input-structure warning (:data:`INPUT_STRUCTURE`) by one INFO line of ours, once per
    process; every other warning is shown as before."""
    import warnings

    shown = warnings.showwarning
    if getattr(shown, "_cxr_input_structure", False):
        return
    said: list[bool] = []

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if INPUT_STRUCTURE in str(message):
            if not said:
                said.append(True)
                logging.getLogger("cxr_core").info(INPUT_STRUCTURE_NOTE)
            return
        shown(message, category, filename, lineno, file, line)

    showwarning._cxr_input_structure = True
    warnings.showwarning = showwarning


class _RetracingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in str(record.msg)


@contextlib.contextmanager
def filtered_stderr():
    """Send file descriptor 2 to a temporary file inside the block, then write its lines back to
    stderr except :func:`is_noise` ones. Does nothing when stderr has no file descriptor."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if not is_noise(line))
            if kept:
                os.write(2, kept.encode("utf-8"))


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, through the other finders, and loads it inside :func:`filtered_stderr`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name):  # is_package, get_resource_reader, ... of the real loader
        return getattr(self._loader, name)


def device_description() -> str:
    """``GPU 0: NVIDIA H200`` lines, or ``CPU only (<processor>, N logical cores)`` (imports TensorFlow)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for i, gpu in enumerate(gpus):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:  # noqa: BLE001 - details are optional
            details = {}
        cc = details.get("compute_capability")
        names.append(f"GPU {i}: {details.get('device_name', gpu.name)}"
                     + (f" (compute capability {cc[0]}.{cc[1]})" if cc else ""))
    if names:
        return "; ".join(names)
    return f"CPU only ({_cpu_name()}, {os.cpu_count()} logical cores); no GPU visible to TensorFlow"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown processor"


def version_text(probe_devices: bool = False) -> str:
    """What ``covid-cxr --version`` prints: package, Python, TensorFlow (and what it was built for), Keras,
    device.

    Without ``probe_devices`` nothing imports TensorFlow (a fraction of a second instead of 10-20 s):
    versions come from the installed packages' metadata, the CUDA / cuDNN versions TensorFlow was
    built for from its ``build_info.py`` (read as data, not run), the GPUs from ``nvidia-smi``. With
    ``probe_devices`` (``--verbose --version``) TensorFlow itself lists the devices it sees."""
    import platform
    from importlib import metadata

    from cxr_core.version import __version__

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    build = _tensorflow_build_info()
    cuda = (f" (built for CUDA {build.get('cuda_version')}, cuDNN {build.get('cudnn_version')})"
            if build.get("is_cuda_build") else " (built without CUDA)" if build else "")
    device = device_description() if probe_devices else _device_without_tensorflow()
    return (f"covid-cxr-tf {__version__}\n"
            f"Python {platform.python_version()}, TensorFlow {installed('tensorflow')}{cuda}, "
            f"Keras {installed('keras')}\n"
            f"device: {device}")


def _tensorflow_build_info() -> dict:
    """``tf.sysconfig.get_build_info()`` without importing TensorFlow: the literal in its build_info.py."""
    import ast

    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = os.path.join(list(spec.submodule_search_locations)[0], "python", "platform", "build_info.py")
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.List):
            try:
                return dict(ast.literal_eval(node.args[0]))
            except ValueError:
                return {}
    return {}


def _device_without_tensorflow() -> str:
    """GPU names from ``nvidia-smi`` (what TensorFlow would see, unless CUDA_VISIBLE_DEVICES hides some)."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    names: list[str] = []
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10)
            names = [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []
        except (OSError, subprocess.SubprocessError):
            names = []
    if names:
        return "; ".join(f"GPU {i}: {name}" for i, name in enumerate(names)) + " (nvidia-smi)"
    return f"CPU only ({_cpu_name()}, {os.cpu_count()} logical cores); no NVIDIA GPU found by nvidia-smi"

