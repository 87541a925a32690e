"""``roomwatch probe`` as an installer runs it: against a recording of a real UPS, an RTSP
camera, and a port where nothing answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from roomwatch.collector.cli import main
from tests.fixtures.recordings import recording_path
from tests.fixtures.rtsp import RtspResponder

REPO = Path(__file__).parents[2]


def test_probe_of_a_recording_names_the_profile_why_and_the_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recording = recording_path("ups-apc-smart-ups-1500-rm")

    status = main(["probe", "--snmprec", str(recording), "--kind", "ups", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["answered"] is True
    snmp = report["snmp"]
    assert snmp["profile"] == "ups-apc"
    assert (
        snmp["why"]
        == "ups-apc: sysObjectID 1.3.6.1.4.1.318.1.3.2.7 starts with 1.3.6.1.4.1.318.1.3.2"
    )
    # read off the recording: upsBasicIdentModel, upsHighPrecBatteryCapacity 1000 (tenths),
    # upsBasicOutputStatus onLine(2)
    assert snmp["identity"]["model"] == "Smart-UPS 1500 RM"
    assert snmp["metrics"]["battery_charge_pct"] == {"value": 100, "unit": "%"}
    assert snmp["metrics"]["on_battery"]["value"] == 0


def test_probe_text_output_lists_metrics_and_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recording = recording_path("ups-apc-smart-ups-1500-rm")

    status = main(["probe", "--snmprec", str(recording), "--kind", "ups"])

    out = capsys.readouterr().out
    assert status == 0
    assert "  profile   ups-apc: sysObjectID" in out
    assert "battery_charge_pct               100 %" in out
    assert out.rstrip().endswith("result: the device answered")


def test_probe_of_a_camera_stream_shows_it_up_and_never_the_password(
    rtsp_camera: RtspResponder, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"rtsp://viewer:{rtsp_camera.password}@127.0.0.1:{rtsp_camera.port}/live/main"

    status = main(["probe", "127.0.0.1", "--no-snmp", "--rtsp", url, "--json"])

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert status == 0 and report["snmp"] is None
    [check] = report["checks"]
    assert (check["check"], check["ok"], check["metrics"]) == ("rtsp", True, {"stream_up": 1})
    assert rtsp_camera.password not in captured.out + captured.err


def test_probe_of_a_missing_stream_says_so(
    rtsp_camera: RtspResponder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"rtsp://127.0.0.1:{rtsp_camera.port}/live/gone"
    monkeypatch.setenv("ROOMWATCH_RTSP_PASSWORD", rtsp_camera.password or "")

    status = main(["probe", "127.0.0.1", "--no-snmp", "--rtsp", url, "--rtsp-user", "viewer"])

    out = capsys.readouterr().out
    assert status == 0  # the camera answered; its stream is what is missing
    assert "rtsp       answered" in out and "stream_up=0" in out
    assert "no such stream (404)" in out
    assert str(rtsp_camera.password) not in out


def test_probe_of_a_silent_device_exits_1_with_a_clear_message() -> None:
    with socket_closed_port() as port:
        done = subprocess.run(
            [sys.executable, "-m", "roomwatch.agent.probe", "127.0.0.1", "--port", str(port),
             "--timeout", "0.3", "--tcp", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    assert done.returncode == 1
    assert "SNMP: no answer (timeout)" in done.stdout
    assert f"tcp:{port}: refused" in done.stdout
    assert done.stdout.rstrip().endswith("result: no answer from the device")
    assert "Traceback" not in done.stderr


def test_probe_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe"]) == 2
    assert main(["probe", "10.0.0.1", "--no-snmp"]) == 2
    assert main(["probe", "--snmprec", "/nonexistent.snmprec"]) == 2
    err = capsys.readouterr().err
    assert "give the device's ADDRESS, or --snmprec FILE" in err
    assert "--no-snmp needs a check" in err
    assert "no such recording file" in err


class socket_closed_port:
    """A local port (UDP and TCP) where nothing listens."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        pass


def test_probe_refuses_an_rtsp_url_whose_password_has_a_slash_without_repeating_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "rtsp://admin:Pa/ss-w0rd@127.0.0.1:1/s"

    assert main(["probe", "127.0.0.1", "--no-snmp", "--rtsp", url]) == 2

    captured = capsys.readouterr()
    assert "--rtsp-user" in captured.err and "ROOMWATCH_RTSP_PASSWORD" in captured.err
    assert "ss-w0rd" not in captured.out + captured.err
