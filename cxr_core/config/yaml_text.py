"""YAML as the experiment files use it: duplicated keys refused, ``--set`` values in one-line errors.

PyYAML keeps the last of two equal keys of a mapping without a word: a second ``train:`` block in an
experiment file would silently drop the first (and the preset's values come back for every key the
first block set). :func:`load_yaml_text` refuses it, naming the key and both lines.
"""

from __future__ import annotations

from typing import Any

import yaml

from cxr_core.config.schema import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that raises on a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it itself
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise ConfigError(f"{self.name_for_errors}: key {key!r} is given twice, at line {first} and at "
                                  f"line {line}; the second would silently replace the first: merge them",
                                  key=str(key), detail=f"key {key!r} given twice (lines {first} and {line})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, where: str) -> Any:
    """``yaml.safe_load(text)`` refusing duplicated keys.

    Raises:
        ConfigError: a key given twice in one mapping (naming ``where``, the key and both lines), or
            text that is not YAML (naming ``where`` and PyYAML's line and column).
    """
    loader = _UniqueKeyLoader(text)
    loader.name_for_errors = where
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({one_line(exc)})") from None
    finally:
        loader.dispose()


def one_line(exc: yaml.YAMLError) -> str:
    """PyYAML's error as one line: the problem and where (``line L, column C``)."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else str(problem)


def override_value(text: str, key: str) -> Any:
    """The YAML value of ``--set key=text``.

    Raises:
        ConfigError: in one line, naming the option, the value and what is wrong, e.g.
            ``--set train.epochs=[3: the value '[3' is not valid YAML (expected ',' or ']' ...)``.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}={text}: the value {text!r} is not valid YAML ({one_line(exc)}); "
                          "quote it if it is text") from None
