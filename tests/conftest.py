"""Shared fixtures: the real images in ../shared/data, a test-only model family, a quiet TensorFlow.

In CI (``CI`` set, as ``.ci/run`` does) a missing reference library or ../shared/data stops the session
before the first test (tests/references.py); locally the tests that need it skip with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.references import SHARED_DATA, in_ci, missing_references, unavailable  # noqa: E402


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI every reference library and ../shared/data must be there: stop before the first test."""
    if in_ci():
        missing = missing_references()
        if missing:
            pytest.exit("CI=" + os.environ["CI"] + ": the tests' references are incomplete:\n  - "
                        + "\n  - ".join(missing), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests that need real images skip without it (fail in CI)."""
    if not (SHARED_DATA / "cxr4-mini" / "MANIFEST.csv").is_file():
        unavailable(
            f"real test images not found at {SHARED_DATA} (expected ../shared/data/cxr4-mini beside the "
            "repository, or set COVID_CXR_SHARED_DATA); CI always has them"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_sources(shared_data: Path) -> Path:
    """``../shared/data/sources``: the real public sources in their download layouts (never copied into the repo)."""
    root = shared_data / "sources"
    needed = ("covid-chestxray-dataset/metadata.csv", "kermany-224/chest_xray/train", "COVID-Net/labels/train_COVIDx.txt")
    if not all((root / n).exists() for n in needed):
        unavailable(f"real public sources not found at {root} (expected {', '.join(needed)}); CI always has them")
    return root


@pytest.fixture(scope="session")
def cxr4_mini(shared_data: Path) -> Path:
    return shared_data / "cxr4-mini"


@pytest.fixture(scope="session")
def cxr4_mini_raw(shared_data: Path) -> Path:
    return shared_data / "cxr4-mini-raw"


@pytest.fixture(scope="session")
def ct2_mini(shared_data: Path) -> Path:
    return shared_data / "ct2-mini"


@pytest.fixture(scope="module")
def tiny_family():
    """The test-only ``tinycnn`` family (tests/tiny_family.py) registered for the module's tests; other
    test families register with :func:`tests.tiny_family.registered`."""
    from tests.tiny_family import registered

    with registered() as family:
        yield family
