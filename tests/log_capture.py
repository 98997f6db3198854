"""Collect the package's log lines in a test, also inside module-scoped fixtures (where ``caplog`` is not
available)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def captured_logs(logger: str = "cxr_core", level: int = logging.INFO) -> Iterator[list[str]]:
    """``with captured_logs() as lines:`` -> every message of ``logger`` (and its children) at ``level`` and
    above, formatted, in order."""
    lines: list[str] = []
    target = logging.getLogger(logger)
    handler = _ListHandler(lines)
    old_level = target.level
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(old_level)
