"""``roomwatch agent --check`` reads what the agent reads at start besides its config file:
profile folders, the profile each device names, the TLS files; it exits 2 naming the file
and the key, and creates nothing (no spool)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomwatch.agent.__main__ import main


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"agent_id: room-101\nstate_dir: {tmp_path / 'state'}\n{body}", "utf-8")
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["--config", str(path), "--check"])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


CAMERA = "devices:\n  - {id: cam1, kind: camera, address: 192.0.2.11, profile: %s}\n"


def test_a_known_profile_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _check(_config(tmp_path, CAMERA % "camera-hikvision"), capsys)
    assert status == 0, out
    assert "ok (agent room-101, 1 devices" in out
    assert not (tmp_path / "state").exists()


def test_an_unknown_profile_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, CAMERA % "camera-hikvison")
    status, out = _check(path, capsys)
    assert status == 2
    assert f"{path}: devices.0.profile: unknown profile 'camera-hikvison'" in out
    assert "camera-hikvision" in out.split("expected one of", 1)[1]


def test_missing_profile_folder_and_tls_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        f"profiles_dirs: [{tmp_path / 'profiles'}]\n"
        f"mqtt:\n  tls:\n    ca_file: {tmp_path / 'ca.crt'}\n"
    )
    path = _config(tmp_path, body)
    status, out = _check(path, capsys)
    assert status == 2
    assert f"{path}: profiles_dirs.0: folder not found" in out
    assert f"{path}: mqtt.tls.ca_file: file not found" in out


def test_a_broken_site_profile_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "camera-local.yaml").write_text("name: camera-local\nmatch: {}\nmetricz: []\n")
    status, out = _check(_config(tmp_path, f"profiles_dirs: [{folder}]\n"), capsys)
    assert status == 2
    assert str(folder / "camera-local.yaml") in out and "metricz" in out
    assert "Traceback" not in out
