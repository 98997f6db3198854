"""Reference libraries and data the tests compare against: skip locally, fail in CI.

The tests compare against tf-keras, keras-applications 1.0.8, keras-preprocessing 1.1.2, PyTorch
(CPU), run notebooks with nbclient/nbformat/ipykernel and read logged runs back with MLflow's client;
some read the real images in
``../shared/data``. Locally a missing one skips the tests that need it, with the reason. In CI (the
environment variable ``CI`` set, as ``.ci/run`` does) a missing one is an error: ``tests/conftest.py``
stops the session before the first test, and :func:`require` fails rather than skips. Use
:func:`require` instead of ``pytest.importorskip``; the project's own modules and its required
dependencies (keras, h5py, ...) are imported plainly, so breakage there is an error, never a skip.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("COVID_CXR_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

#: Reference libraries the tests compare against: import name -> what to install (setup.cfg extras).
REFERENCE_LIBRARIES = {
    "tf_keras": "tf-keras (pip install -e '.[test]')",
    "keras_applications": "keras-applications==1.0.8 (pip install -e '.[test]')",
    "keras_preprocessing": "keras-preprocessing==1.1.2 (pip install -e '.[test]')",
    "torch": "the CPU build of PyTorch (pip install -e '.[torch]'; .ci/run pins the CPU wheel)",
    "nbformat": "nbformat (pip install -e '.[test]')",
    "nbclient": "nbclient (pip install -e '.[test]')",
    "ipykernel": "ipykernel (pip install -e '.[test]')",
    "mlflow": "mlflow (pip install -e '.[test]', or '.[mlflow]')",
}

#: Folders of ../shared/data the tests read.
SHARED_DATASETS = ("cxr4-mini", "cxr4-mini-raw", "ct2-mini")


def in_ci() -> bool:
    """True when the environment variable ``CI`` is set to anything but ``""``/``0``/``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_references() -> list[str]:
    missing = []
    for name, install in REFERENCE_LIBRARIES.items():
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"reference library {name} cannot be imported ({exc}); install {install}")
    if not (SHARED_DATA / "cxr4-mini" / "MANIFEST.csv").is_file():
        missing.append(f"real test images not found at {SHARED_DATA} (../shared/data beside the repository, "
                       "or set COVID_CXR_SHARED_DATA)")
    else:
        missing += [f"{SHARED_DATA / d} is missing" for d in SHARED_DATASETS if not (SHARED_DATA / d).is_dir()]
    return missing


def unavailable(reason: str):
    """Skip locally, fail in CI (where :func:`pytest_sessionstart` should already have stopped)."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing reference is an error, not a skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(module: str) -> ModuleType:
    """Import a reference library (a key of :data:`REFERENCE_LIBRARIES`, or one of its submodules such
    as ``keras_applications.resnet50``): skip the calling test (or module, at import time) with the
    reason when it is missing, fail in CI. Not for the project's own modules or required dependencies."""
    top = module.split(".")[0]
    if top not in REFERENCE_LIBRARIES:
        raise ValueError(f"require({module!r}): not a reference library; import it plainly (a required "
                         f"dependency or the project's own module must never be skipped)")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"reference library {module} is not installed ({exc}); install {REFERENCE_LIBRARIES[top]}")
