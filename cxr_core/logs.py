"""Where the package's log lines go: one call for the CLI, notebooks and scripts.

Library modules log through ``logging.getLogger(__name__)`` and never print; progress lines (a
fold's sizes, each epoch, a fold's test accuracy) are INFO. Without :func:`configure_logging`
Python shows only warnings and errors.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator, TextIO

def package_loggers() -> tuple[str, ...]:
    """The loggers of this project's packages (the core and every registered family's top-level
    package); other libraries' loggers stay at their own level."""
    from cxr_core.family import family_packages

    return ("cxr_core", *family_packages())


_HANDLER_NAME = "covid-cxr"


def configure_logging(level: int | str = logging.INFO, *, stream: TextIO | None = None) -> None:
    """Show the packages' log lines at ``level`` and above on ``stream`` (default: stderr).

    INFO lines look like ``[14:03:07] fold 0: train 99, validation 33, test 33``; at DEBUG the
    level and logger name are added. Calling it again replaces the previous setting (no
    duplicated lines).
    """
    level = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(level, int):
        raise ValueError(f"log level: expected DEBUG, INFO, WARNING or ERROR, found {level!r}")
    fmt = "[%(asctime)s] %(levelname)s %(name)s: %(message)s" if level <= logging.DEBUG else "[%(asctime)s] %(message)s"
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_Formatter(fmt, datefmt="%H:%M:%S"))
    # The handler sits on the root logger (so pytest's caplog and a user's own handlers still see the
    # records); only the packages' loggers get the level, so other libraries stay at WARNING.
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    for name in package_loggers():
        logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def progress_logging(verbose: bool = True) -> Iterator[None]:
    """While the block runs, the packages' progress lines (INFO: folds, epochs, test accuracy) go to stderr
    as on the command line, unless the caller configured logging already (a handler of
    :func:`configure_logging`, or a package logger level set by hand), which is then left alone.
    ``verbose=False``: only warnings and errors while the block runs. Everything is restored afterwards.
    """
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in package_loggers()]
    levels = [lg.level for lg in loggers]
    configured = any(h.get_name() == _HANDLER_NAME for h in root.handlers) or any(levels)
    handler = None
    if not verbose:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    elif not configured:
        handler = _StderrHandler()
        handler.set_name(f"{_HANDLER_NAME}-api")
        handler.setFormatter(_Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S"))
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
        for lg in loggers:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        if handler is not None:
            root.removeHandler(handler)
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class _Formatter(logging.Formatter):
    """INFO lines plain; WARNING and above say so."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING and "%(levelname)s" not in (self._fmt or ""):
            head, _, rest = text.partition("] ")
            text = f"{head}] {record.levelname}: {rest}"
        return text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (a notebook or test may swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the live sys.stderr wins
        pass
