"""Every command and option of ``roomwatch`` says what it is for, in plain text (no RST
markup), and ``./run`` without a command prints its usage."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomwatch.collector.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _parsers(
    parser: argparse.ArgumentParser, path: str = "roomwatch"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest for choice in action._choices_actions if choice.help}
                missing += [f"{path} {name}" for name in action.choices if name not in helps]
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize(
    "argv",
    [[], ["agent"], ["collector"], ["collector", "--config", "c.yaml", "user"], ["demo"],
     ["broker"], ["probe"], ["report"]],
)  # fmt: skip
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text
    if not argv:
        for command in ("agent", "collector", "demo", "broker", "probe", "report"):
            assert f"\n    {command}" in text, command


def test_run_without_a_command_prints_its_usage() -> None:
    done = subprocess.run(
        [str(ROOT / "run")], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: ./run COMMAND")
    assert "./run demo" in done.stdout and "./run test" in done.stdout
    assert "set -" not in done.stdout  # not a line of the script itself
    wrong = subprocess.run(
        [str(ROOT / "run"), "tset"], capture_output=True, text=True, timeout=30, check=False
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("usage: ./run")
