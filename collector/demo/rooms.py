"""Simulated classrooms: real SNMP devices (snmpd), a stand-in recording process, and a real
room agent process per room, all on this machine. Used by the demo and the end-to-end tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from roomwatch.collector.demo import simdevice, simkit
from roomwatch.collector.demo.procs import ManagedProcess

# A recording room's kit of real device families (simkit): (device id, spec, parent id).
# The agent is told each device's kind only; it picks the profile by itself.
ROOM_KIT: list[tuple[str, str, str | None]] = [
    ("ups-1", "ups", None),  # APC Smart-UPS
    ("sw-1", "switch", "ups-1"),  # Huawei S5720 PoE switch
    ("cam-1", "camera", "sw-1"),  # Axis camera
    ("cam-2", "camera-hikvision", "sw-1"),  # Hikvision camera, no system group
    ("enc-1", "encoder", "sw-1"),  # Hikvision NVR
]
RECORDER_MARK = "roomwatch-demo-recorder"


@dataclass
class SimRoom:
    """One classroom: its devices, its recorder stand-in and its agent."""

    room_id: str
    agent_id: str
    workdir: Path
    password: str
    interval_s: float
    devices: dict[str, simdevice.SimulatedDevice] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    recorder: ManagedProcess | None = None
    agent: ManagedProcess | None = None
    broker_port: int = 0
    world_state: dict[str, Any] = field(
        default_factory=lambda: {"storage_pct": 41.0, "on_battery": False}
    )

    def start_devices(self) -> None:
        for device_id, spec_name, parent in ROOM_KIT:
            spec = simkit.room_device_spec(spec_name, name=f"{self.room_id}-{device_id}")
            device = simdevice.SimulatedDevice(spec, workdir=self.workdir / "devices" / device_id)
            device.start()
            self.devices[device_id] = device
            self.kinds[device_id] = spec.kind
            self.parents[device_id] = parent

    def start_recorder(self) -> None:
        """A process whose command line the agent watches as the room's recording software."""
        self.recorder = ManagedProcess(
            "recorder",
            [
                sys.executable,
                "-c",
                "import time\nwhile True: time.sleep(60)",
                RECORDER_MARK,
                self.room_id,
            ],
            self.workdir / "recorder.log",
        )
        self.recorder.start()

    def agent_config(self, broker_port: int) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "room": self.room_id,
            "interval_s": self.interval_s,
            "state_dir": str(self.workdir / "agent-state"),
            "mqtt": {"host": "127.0.0.1", "port": broker_port, "password": self.password},
            "host": {
                "disks": ["/"],
                "processes": [{"name": "recorder", "match": f"{RECORDER_MARK} {self.room_id}"}],
            },
            "snmp": {"timeout_s": 1.0, "retries": 0},
            "devices": [
                {
                    "id": device_id,
                    "kind": self.kinds[device_id],
                    "address": device.address[0],
                    "port": device.address[1],
                    **({"parent": self.parents[device_id]} if self.parents[device_id] else {}),
                }
                for device_id, device in self.devices.items()
            ],
        }

    def write_agent_config(self, broker_port: int) -> Path:
        path = self.workdir / "agent.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.agent_config(broker_port), sort_keys=False))
        os.chmod(path, 0o600)  # it holds the agent's MQTT password
        return path

    def stop_recorder(self) -> None:
        if self.recorder is not None:
            self.recorder.kill()

    def kill_agent(self) -> None:
        """SIGKILL, as a power cut would: the broker publishes the agent's Last Will."""
        if self.agent is not None:
            self.agent.kill()

    def restart_agent(self) -> None:
        self.start_agent(self.broker_port)

    def start_agent(self, broker_port: int) -> None:
        self.broker_port = broker_port
        config = self.write_agent_config(broker_port)
        self.agent = ManagedProcess(
            f"agent {self.agent_id}",
            [sys.executable, "-m", "roomwatch.agent", "--config", str(config)],
            self.workdir / "agent.log",
        )
        self.agent.start()

    def inventory_devices(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [{"id": "host", "kind": "host", "model": "Recording PC"}]
        for device_id, spec_name, parent in ROOM_KIT:
            kind = simkit.room_device_spec(spec_name, name=device_id).kind
            entry: dict[str, Any] = {"id": device_id, "kind": kind}
            if parent:
                entry["parent"] = parent
            items.append(entry)
        return items

    def stop(self) -> None:
        for process in (self.agent, self.recorder):
            if process is not None:
                process.stop()
        for device in self.devices.values():
            device.stop()
