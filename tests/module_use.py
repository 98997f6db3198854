"""A pytest plugin that lists the package modules a test run never exercised.

Used to check that the fast tier still covers every module::

    python -m pytest -m "not slow" -p tests.module_use

At the end of the session it prints, for each package of :data:`PACKAGES`, the modules none of whose
functions (or methods) ran; a module made only of data (no ``def``) counts as exercised when it was
imported (or run, as ``python -m`` runs ``__main__``). Tracing uses :func:`sys.settrace` for call events only (no line events), so it costs little;
run the timing measurement without it. Set ``COVID_CXR_MODULE_USE_STRICT=1`` to make a module left
unexercised fail the session (exit status 1).
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cxr_core", "coronet_tf", "cvrnet_tf", "coronanet_tf")

_ROOTS = tuple(str(REPO / p) + os.sep for p in PACKAGES)
_called: set[str] = set()  # files one of whose functions ran
_executed: set[str] = set()  # files whose module body ran (imported, or run as __main__)


def _trace(frame, event, arg):
    filename = frame.f_code.co_filename
    if filename.startswith(_ROOTS):
        (_executed if frame.f_code.co_name == "<module>" else _called).add(filename)
    return None  # no line events


def package_modules() -> dict[str, Path]:
    """``dotted name -> file`` for every module of :data:`PACKAGES` (``__init__`` included)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _has_functions(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in ast.walk(tree))


def unexercised() -> list[str]:
    """Modules none of whose functions ran (data-only modules: not imported or run)."""
    missing = []
    for name, path in package_modules().items():
        if _has_functions(path):
            if str(path) not in _called:
                missing.append(name)
        elif name not in sys.modules and str(path) not in _executed:
            missing.append(name)
    return missing


def pytest_configure(config):
    sys.settrace(_trace)
    threading.settrace(_trace)


def pytest_sessionfinish(session, exitstatus):
    sys.settrace(None)
    threading.settrace(None)
    missing = unexercised()
    total = len(package_modules())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"module use: {total - len(missing)} of {total} package modules exercised"]
    lines += [f"  not exercised: {name}" for name in missing]
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
    if missing and os.environ.get("COVID_CXR_MODULE_USE_STRICT") and session.exitstatus == 0:
        session.exitstatus = 1
