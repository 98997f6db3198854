"""Shared fixtures: the real images in ../shared/data, and a quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("COVID_CXR_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests that need real images skip without it."""
    if not (SHARED_DATA / "cxr4-mini" / "MANIFEST.csv").is_file():
        pytest.skip(
            f"real test images not found at {SHARED_DATA} (expected ../shared/data/cxr4-mini beside the "
            "repository, or set COVID_CXR_SHARED_DATA); CI always has them"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def cxr4_mini(shared_data: Path) -> Path:
    return shared_data / "cxr4-mini"


@pytest.fixture(scope="session")
def cxr4_mini_raw(shared_data: Path) -> Path:
    return shared_data / "cxr4-mini-raw"


@pytest.fixture(scope="session")
def ct2_mini(shared_data: Path) -> Path:
    return shared_data / "ct2-mini"
