"""The collector's config: the commented example parses, mistakes are named precisely,
and the CLI reports them in one line with exit status 2 and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roomwatch.agent.errors import ConfigError
from roomwatch.collector.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_commented_example_parses_and_resolves_the_inventory_beside_it():
    config = load_config(ROOT / "examples" / "collector.yaml")
    assert config.mqtt.username == "collector"
    assert config.inventory_file == ROOT / "examples" / "inventory.yaml"


def test_a_misspelt_key_names_file_key_and_the_keys_expected(tmp_path: Path):
    path = tmp_path / "collector.yaml"
    path.write_text("mqtt:\n  prot: 1883\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}: mqtt.prot: unknown key" in message and "port" in message


def test_cli_reports_a_bad_file_in_one_line_without_leaking_the_password(tmp_path: Path):
    path = tmp_path / "collector.yaml"
    path.write_text("mqtt:\n  password: [hunter2-secret]\n  port: seventy\n")
    result = subprocess.run(
        [sys.executable, "-m", "roomwatch.collector.cli", "collector", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "mqtt.port" in result.stderr and "hunter2" not in result.stderr + result.stdout
