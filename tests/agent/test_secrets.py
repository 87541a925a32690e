"""No secret ever leaves the agent: not in its DEBUG log, its spool, or anything it publishes.

The agent runs as the service manager runs it (``python -m roomwatch.agent``), with an SNMPv3
auth/priv key, a v2c community and an MQTT password, polling a reachable and an unreachable
device and one with a wrong key, and receiving v1, v2c and v3 traps (a v1 trap carries its
community in a varbind once pysnmp converts it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from roomwatch.agent import wire
from roomwatch.collector.demo.simdevice import SimUser, free_udp_port, ptz_camera, ups
from tests.fixtures.broker import Received, wait_until, write_agent_yaml

REPO = Path(__file__).parents[2]
AUTH_KEY = "Auth-Secret-4c1d9e"
PRIV_KEY = "Priv-Secret-7b2a5f"
WRONG_KEY = "Wrong-Secret-9e8d7c"
COMMUNITY = "Community-Secret-3f6a"
WRONG_COMMUNITY = "Trap-Community-Secret-2b4c"
MQTT_PASSWORD = "Mqtt-Secret-5d8e1a"
SECRETS = (AUTH_KEY, PRIV_KEY, WRONG_KEY, COMMUNITY, WRONG_COMMUNITY, MQTT_PASSWORD)
UPS_ON_BATTERY = "1.3.6.1.2.1.33.2.1"
STREAM_LOST = "1.3.6.1.4.1.55555.5.0.1"


def latest_metrics(received: list[Received]) -> dict[str, wire.DeviceSample]:
    for r in reversed(received):
        if isinstance(r.message, wire.MetricsMessage):
            return {s.device: s for s in r.message.devices}
    return {}


def events_of(received: list[Received]) -> list[wire.Event]:
    return [
        e for r in received if isinstance(r.message, wire.EventsMessage) for e in r.message.events
    ]


def all_seen(received: list[Received]) -> bool:
    samples = latest_metrics(received)
    states = {name: (s.reachable, s.error) for name, s in samples.items()}
    return (
        states.get("cam1") == (True, None)
        and states.get("ups1") == (True, None)
        and states.get("dead1", (True,))[0] is False
        and str(states.get("cam-wrong")).startswith("(False, 'authentication failed")
        and len(events_of(received)) >= 3
    )


def test_no_secret_in_logs_spool_or_payloads(
    sim_devices, make_agent_config, subscriber, tmp_path: Path
) -> None:
    camera_spec, ups_spec = ptz_camera("cam1"), ups("ups1")
    camera_spec.users = [SimUser("roomwatch", auth_key=AUTH_KEY, priv_key=PRIV_KEY,
                                 auth_protocol="sha256", priv_protocol="aes")]  # fmt: skip
    ups_spec.community = COMMUNITY
    camera, power = sim_devices(camera_spec, ups_spec)
    v3 = {"version": "v3", "username": "roomwatch", "auth_protocol": "sha256",
          "priv_protocol": "aes", "priv_key": PRIV_KEY}  # fmt: skip
    trap_port = free_udp_port()
    config = make_agent_config(
        "room-secrets",
        password=MQTT_PASSWORD,
        log_level="DEBUG",
        interval_s=2.0,
        snmp={
            "credentials": {"cam": v3 | {"auth_key": AUTH_KEY}, "ups": {"community": COMMUNITY},
                            "wrong": v3 | {"auth_key": WRONG_KEY},
                            "dead": v3 | {"username": "far-away", "auth_key": AUTH_KEY}},
            "timeout_s": 0.5,
            "retries": 0,
            "traps": {"enabled": True, "listen_address": "127.0.0.1", "port": trap_port,
                      "batch_s": 0.1},
        },
        devices=[
            camera.device_config(credentials="cam").model_dump(),
            power.device_config(credentials="ups").model_dump(),
            {"id": "dead1", "kind": "camera", "address": "127.0.0.1", "port": free_udp_port(),
             "credentials": "dead"},
            camera.device_config(id="cam-wrong", credentials="wrong").model_dump(),
        ],
    )  # fmt: skip
    config_file = write_agent_yaml(config, tmp_path / "agent.yaml")
    assert AUTH_KEY in config_file.read_text()  # the agent really gets the secrets
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        agent = subprocess.Popen(
            [sys.executable, "-m", "roomwatch.agent", "--config", str(config_file)],
            cwd=REPO, stdout=out, stderr=err, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        try:
            wait_until(lambda: "receiving SNMP traps" in stderr.read_text(), timeout_s=20)
            power.send_trap(trap_port, UPS_ON_BATTERY, {"1.3.6.1.2.1.33.1.2.3.0": ("integer", 9)})
            power.send_trap(trap_port, UPS_ON_BATTERY, {}, version="v1")
            power.send_trap(trap_port, UPS_ON_BATTERY, {}, community=WRONG_COMMUNITY)
            camera.send_trap(trap_port, STREAM_LOST, {}, version="v3")
            received = subscriber.wait_for(all_seen, timeout_s=30)
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=30) == 0
    log = stdout.read_text() + stderr.read_text()
    assert " DEBUG " in log and "not answering" in log  # a DEBUG run, with failures
    spool_bytes = b"".join(p.read_bytes() for p in Path(config.state_dir).rglob("*") if p.is_file())
    payloads = [r.message.model_dump_json() for r in received]
    assert sorted(e.device for e in events_of(received))[:3] == ["cam1", "ups1", "ups1"]
    for secret in SECRETS:
        assert secret not in log, secret
        assert secret.encode() not in spool_bytes, secret
        assert not [p for p in payloads if secret in p], secret
