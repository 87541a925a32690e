"""A recording room's kit as real device families serve it: the demo's rooms and the
benchmarks poll these, and the agent picks each one's profile by itself (sysObjectID,
sysDescr or a probe OID), as it would on site.

Identities and quirks are those of the recordings in ``tests/fixtures/snmprec/`` (an Axis
P1435-LE camera, a Hikvision DS-2CD2185FWD-I camera without a system group, a Hikvision
NVR whose disk rows end in ``.0``, a Huawei S5720 PoE switch, an APC Smart-UPS X 750 and a
Synology DS214se answering with net-snmp's Linux sysObjectID); the values are healthy
ones the demo's world then moves. The made-up RoomCam projector stays, to show a custom
profile.
"""

from __future__ import annotations

from collections.abc import Callable

from roomwatch.collector.demo.simspecs import (
    DeviceSpec,
    SimRow,
    SimulatorError,
    projector,
    storage_row,
    switch_ports,
)

MB = 1024 * 1024
NVR_DISK = "1.0"  # hikDiskIndex as Hikvision NVRs serve it, with a trailing ".0"
HIKVISION_CAMERA = "1.3.6.1.4.1.39165.1"  # HIK-DEVICE-MIB
APC_UPS = "1.3.6.1.4.1.318.1.1.1"  # PowerNet-MIB ups


def axis_camera(name: str = "cam1") -> DeviceSpec:
    """An Axis camera; its video channel is served as Axis video encoders serve it."""
    return DeviceSpec(
        name=name, kind="camera", profile="camera-axis",
        sys_descr=" ; AXIS P1435-LE; Network Camera; 9.80.69; May 13 2024 09:11; 70D; 1;",
        sys_object_id="1.3.6.1.4.1.368.1.1",
        values={"uptime_s": 86_400, "temperature_c": 41, "stream_up": 1, "stream_status": 2},
        tables={"temperature_sensors": [SimRow(index=1, values={"ok": 1})]},
    )  # fmt: skip


def hikvision_camera(name: str = "cam2") -> DeviceSpec:
    """A Hikvision camera: no system group at all, known by its deviceType (a probe)."""
    return DeviceSpec(
        name=name, kind="camera", profile="camera-hikvision",
        sys_descr="", sys_object_id="", system_group=False,
        values={"cpu_pct": "15 PERCENT", "mem_used_pct": "43 PERCENT",
                "memory_total_bytes": "512 MB", "sd_card_size_bytes": "0.0 GB",
                "sd_card_used_pct": "0 PERCENT"},
        raw={f"{HIKVISION_CAMERA}.1.0": ("octet_str", "DS-2CD2185FWD-I"),
             f"{HIKVISION_CAMERA}.3.0": ("octet_str", "V5.5.3 build 171025")},
    )  # fmt: skip


def hikvision_nvr(name: str = "enc1") -> DeviceSpec:
    """A Hikvision NVR with one 4 TB disk, 41 % full (table storage, row ``NVR_DISK``)."""
    return DeviceSpec(
        name=name, kind="encoder", profile="nvr-hikvision",
        sys_descr="Hikvision company products", sys_object_id="1.3.6.1.4.1.50001",
        values={"uptime_s": 172_800, "mem_used_pct": 23, "online": 1},
        tables={
            "disks": [SimRow(index=NVR_DISK, labels={"volume": "HDD1"},
                             values={"failed": 0, "size_bytes": 3_815_447 * MB})],
            "storage": [SimRow(index=NVR_DISK, values={"used_pct": 41.0})],
        },
    )  # fmt: skip


def huawei_poe_switch(name: str = "sw1", ports: int = 8) -> DeviceSpec:
    """A Huawei S5720 PoE switch: ports 1-5 up and powering their devices."""
    interfaces = switch_ports(ports, ifname="GigabitEthernet0/0/{}")
    poe_ports = [
        SimRow(index=f"1.{i}", values={"admin_enabled": 1, "delivering": int(i <= 5)})
        for i in range(1, ports + 1)
    ]
    return DeviceSpec(
        name=name, kind="switch", profile="switch-huawei-vrp",
        sys_descr="S5720-56C-PWR-EI-AC Huawei Versatile Routing Platform Software VRP (R) "
                  "software, Version 5.170 (S5720 V200R010C00SPC600)",
        sys_object_id="1.3.6.1.4.1.2011.2.23.291",
        values={"uptime_s": 2_592_000, "cpu_pct": 9, "mem_used_pct": 41, "temperature_c": 38,
                "poe_budget_w": 370, "poe_used_w": 42},
        tables={"interfaces": interfaces, "poe_ports": poe_ports,
                "poe_pse": [SimRow(index=1, values={"oper_on": 1})]},
    )  # fmt: skip


def apc_ups(name: str = "ups1") -> DeviceSpec:
    """An APC Smart-UPS X 750 behind an AP9631 card, on mains."""
    return DeviceSpec(
        name=name, kind="ups", profile="ups-apc",
        sys_descr="APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.7.2 PN:apc_hw05_aos_672.bin "
                  "AF1:v6.7.2 AN1:apc_hw05_sumx_672.bin MN:AP9631 HR:05) "
                  "(Embedded PowerNet SNMP Agent SW v2.2 compatible)",
        sys_object_id="1.3.6.1.4.1.318.1.3.27",
        values={"uptime_s": 5_184_000, "on_battery": 0, "battery_status": 2,
                "battery_replace": 0, "battery_minutes_remaining": 42,
                "battery_charge_pct": 100, "battery_temperature_c": 28.5,
                "battery_voltage_v": 27.3, "input_voltage_v": 230, "output_voltage_v": 230,
                "load_pct": 32},
        raw={f"{APC_UPS}.1.1.1.0": ("octet_str", "Smart-UPS X 750"),
             f"{APC_UPS}.1.2.1.0": ("octet_str", "UPS 09.9"),
             f"{APC_UPS}.2.2.3.0": ("timeticks", 0)},  # upsAdvBatteryRunTimeRemaining
    )  # fmt: skip


def synology_nas(name: str = "nas1") -> DeviceSpec:
    """A Synology DS214se: net-snmp's Linux sysObjectID, known by its modelName (a probe)."""
    disks = [SimRow(index=i, labels={"disk": f"Disk {i}", "model": "WD40EFRX-68N32N0"},
                    values={"failed": 0, "smart_warning": 0, "temperature_c": 33,
                            "bad_sectors": 0})
             for i in (1, 2)]  # fmt: skip
    return DeviceSpec(
        name=name, kind="nas", profile="nas-synology",
        sys_descr="Linux nas0 3.2.101 #42962 Mon May 29 14:34:16 CST 2023 armv7l",
        sys_object_id="1.3.6.1.4.1.8072.3.2.10",
        values={"uptime_s": 1_296_000, "system_ok": 1, "temperature_c": 40, "power_ok": 1,
                "fan_ok": 1, "cpu_fan_ok": 1, "cpu_pct": 12},
        tables={"disks": disks,
                "raids": [SimRow(index=1, labels={"raid": "Volume 1"}, values={"degraded": 0})],
                "storage": [storage_row(1, "/volume1", 3.5e12, 62)]},
        raw={"1.3.6.1.4.1.6574.1.5.1.0": ("octet_str", "DS214se"),
             "1.3.6.1.4.1.6574.1.5.3.0": ("octet_str", "DSM 7.1-42962")},
    )  # fmt: skip


SPEC_BY_KIND: dict[str, Callable[[str], DeviceSpec]] = {
    "camera": axis_camera,
    "camera-hikvision": hikvision_camera,
    "encoder": hikvision_nvr,
    "switch": huawei_poe_switch,
    "ups": apc_ups,
    "nas": synology_nas,
    "projector": projector,  # the made-up RoomCam vendor: a custom profile
}


def room_device_spec(kind: str, name: str) -> DeviceSpec:
    """The ready-made spec of a device kind (camera, encoder, switch, ups, nas, projector;
    ``camera-hikvision`` for the second camera family)."""
    try:
        return SPEC_BY_KIND[kind](name)
    except KeyError:
        raise SimulatorError(
            f"no ready-made spec for kind {kind!r} ({', '.join(SPEC_BY_KIND)})"
        ) from None


def room_kit(room: str = "r101") -> list[DeviceSpec]:
    """A recording room: two cameras (Axis, Hikvision), NVR, PoE switch, UPS and NAS."""
    return [
        axis_camera(f"{room}-cam1"), hikvision_camera(f"{room}-cam2"),
        hikvision_nvr(f"{room}-enc1"), huawei_poe_switch(f"{room}-sw1"),
        apc_ups(f"{room}-ups1"), synology_nas(f"{room}-nas1"),
    ]  # fmt: skip
