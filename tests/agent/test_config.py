"""The agent's config: the commented example parses, and a bad file is one readable line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from roomwatch.agent.__main__ import main
from roomwatch.agent.config import AgentConfig, load_config

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples" / "agent.yaml"
SECRET = "s3cret-do-not-print-42"


def test_the_example_parses_with_its_documented_values() -> None:
    config = load_config(EXAMPLE)

    assert config.agent_id == "room-101" and config.mqtt_username == "room-101"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "change-me"
    assert [d.id for d in config.devices] == ["switch", "cam-front", "ups"]
    assert config.host.processes[0].name == "recorder"
    assert config.spool.max_bytes == 64 * 1024 * 1024
    assert config.spool == type(config.spool)()  # the example shows the defaults


def field_names(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for inner in _models_in(field.annotation):
            names |= field_names(inner)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def test_the_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()

    missing = sorted(name for name in field_names(AgentConfig) if f"{name}:" not in text)

    assert missing == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_a_malformed_config_exits_2_with_one_readable_line_and_no_secret(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        f"agent_id: room-101\nmqtt:\n  port: not-a-port\n  password: {SECRET}\n",
    )

    result = subprocess.run(
        [sys.executable, "-m", "roomwatch.agent", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0] and "mqtt.port" in lines[0] and "integer" in lines[0]
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr


CAMERA = (
    "agent_id: room-101\ndevices:\n  - {{{{id: cam, kind: camera, address: 10.0.0.9, "
    "checks: {{{{rtsp: [{{{{url: '{url}'}}}}]}}}}}}}}\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agent_id: room-101\nmqtt:\n  pasword: {secret}\n", "mqtt.pasword: unknown key"),
        ("agent_id: room-101\nmqtt:\n  password: [{secret}]\n", "mqtt.password"),
        (
            "agent_id: room-101\nsnmp:\n  credentials:\n"
            "    default:\n      community: [{secret}]\n",
            "snmp.credentials.default.community",
        ),
        ("mqtt:\n  password: {secret}\n", "agent_id: required key is missing"),
        (
            "agent_id: room-101\ndevices:\n  - {{id: agent, kind: switch, address: 10.0.0.2}}\n",
            "device id 'agent' is reserved",
        ),
        ("agent_id: room-101\n  mqtt: {secret}: [\n", "not valid YAML"),
        # A URL check's error never repeats the URL's password: a wrong scheme, a "/", "?"
        # or "#" in the password (urlsplit then takes part of it for the port), no host.
        (CAMERA.format(url="rtsps://admin:{secret}@cam/x"), "checks.rtsp.0.url"),
        (CAMERA.format(url="rtsp://admin:{secret}/x@cam/s"), "URL with '@' is refused"),
        (CAMERA.format(url="rtsp://admin:pa#{secret}@cam/s"), "URL with '@' is refused"),
        (CAMERA.format(url="http://admin:{secret}@/x"), "URL with '@' is refused"),
    ],
)
def test_config_errors_name_the_key_and_never_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    config = write(tmp_path, text.format(secret=SECRET))

    assert main(["--config", str(config)]) == 2

    out, err = capsys.readouterr()
    assert expected in err and str(config) in err
    assert SECRET not in out + err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml")]) == 2

    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_check_validates_the_example_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(EXAMPLE), "--check"]) == 0

    assert "ok" in capsys.readouterr().out


def test_unloadable_tls_files_exit_2_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_ca = tmp_path / "missing-ca.crt"
    config = write(
        tmp_path,
        f"agent_id: room-101\nstate_dir: {tmp_path / 'state'}\n"
        f"mqtt:\n  port: 1\n  tls:\n    ca_file: {missing_ca}\n",
    )

    assert main(["--config", str(config)]) == 2

    assert "mqtt.tls" in capsys.readouterr().err
