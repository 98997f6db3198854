"""The README agrees with the program: every option it shows is accepted by the command's parser."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


def readme_commands() -> list[list[str]]:
    """Every ``covid-cxr ...`` line of the README's code blocks (continuations joined), as words."""
    text = README.read_text(encoding="utf-8")
    code, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside or line.startswith("    "):  # fenced blocks and indented ones
            code.append(line)
    commands = []
    joined = re.sub(r"\\\n\s*", " ", "\n".join(code))
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"^(\S+\$ )|^CUDA_VISIBLE_DEVICES=\S+ ", "", line)
        if line.startswith("covid-cxr "):
            commands.append(shlex.split(line.rstrip("&").strip()))
    return commands


def test_every_option_the_readme_shows_is_accepted():
    from cxr_core.cli.main import build_parser

    parser = build_parser()
    commands = readme_commands()
    assert len(commands) > 20, "README commands not found"
    unknown = []
    for words in commands:
        sub = _subparsers(parser)
        current = parser
        rest = words[1:]
        while rest and rest[0] in sub:  # covid-cxr data build ...: walk down the sub-commands
            current = sub[rest[0]]
            sub = _subparsers(current)
            rest = rest[1:]
        allowed = _options(current) | _options(parser)
        for word in rest:
            option = word.split("=", 1)[0]
            if option.startswith("--") and option not in allowed:
                unknown.append(f"{' '.join(words[:3])}: {option}")
    assert not unknown, f"options the README shows that the parser does not accept: {unknown}"
