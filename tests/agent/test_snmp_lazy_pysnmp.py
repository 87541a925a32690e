"""An agent that polls v2c devices only never imports pysnmp (nor pyasn1, nor
``cryptography``): ~11 MiB of RSS it does not need. One with an SNMPv3 device loads it when
it first polls that device, and reads it. Checked on the real agent process
(``python -X importtime -m roomwatch.agent``) against a real broker and snmpd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from roomwatch.agent import wire
from roomwatch.collector.demo.simdevice import SimUser, ptz_camera
from tests.fixtures.broker import Received, write_agent_yaml

REPO = Path(__file__).parents[2]
HEAVY = ("pysnmp", "pyasn1", "cryptography")
V3 = {"version": "v3", "username": "roomwatch", "auth_protocol": "sha", "priv_protocol": "aes",
      "auth_key": "lazy-auth-key", "priv_key": "lazy-priv-key"}  # fmt: skip


def camera_read(received: list[Received]) -> bool:
    for r in received:
        if isinstance(r.message, wire.MetricsMessage):
            samples = {s.device: s for s in r.message.devices}
            if "cam1" in samples and samples["cam1"].reachable:
                return samples["cam1"].metrics.get("stream_fps") == 25
    return False


def imported(importtime_log: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` output."""
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(("credential", "loads_pysnmp"), [("v2c", False), ("v3", True)])
def test_pysnmp_is_imported_only_for_an_snmpv3_device(
    credential, loads_pysnmp, sim_devices, make_agent_config, subscriber, tmp_path: Path
) -> None:
    spec = ptz_camera("cam1")
    spec.users = [SimUser("roomwatch", auth_key=V3["auth_key"], priv_key=V3["priv_key"])]
    [camera] = sim_devices(spec)
    config = make_agent_config(
        f"room-lazy-{credential}",
        snmp={"credentials": {"v2c": {"community": spec.community}, "v3": V3}},  # both known
        devices=[camera.device_config(credentials=credential).model_dump()],
        host={"enabled": False},
    )
    config_file = write_agent_yaml(config, tmp_path / "agent.yaml")
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as err:
        agent = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "roomwatch.agent",
             "--config", str(config_file)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        try:
            subscriber.wait_for(camera_read, timeout_s=30)
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=30) == 0
    loaded = imported(stderr.read_text()) & set(HEAVY)
    assert loaded == (set(HEAVY) if loads_pysnmp else set())
