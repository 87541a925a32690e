"""Hosts polled over SNMP (HOST-RESOURCES-MIB) on recordings of real agents: the kind's
standard profile is chosen, only real disks become rows, memory comes from the RAM row.

Expected values are read off the recordings by hand: used / size x 100 of each row."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_linux_net_snmp_host_reports_its_disks_without_tmpfs_and_memory(poll_recording):
    polled = await poll_recording("host-linux-net-snmp", kind="host")
    assert polled.profile == "host-generic"  # no system group: the kind's standard profile
    disks = polled.rows("disk")
    # hrStorageFixedDisk rows are /, /sys/fs/cgroup, /run, /run/lock, /run/shm, /run/user,
    # /home; the tmpfs ones are left out, as are RAM, virtual memory and buffers/caches.
    assert sorted(disks) == ["/", "/home"]
    assert disks["/"]["used_pct"] == pytest.approx(2656106 / 5974751 * 100)  # 44.46 %
    assert disks["/"]["size_bytes"] == 5974751 * 4096
    assert disks["/home"]["used_pct"] == pytest.approx(41870371 / 49678626 * 100)  # 84.28 %
    # "Physical memory", hrStorageRam: 5303624 of 7870368 KiB used.
    assert polled.sample.metrics["mem_used_pct"] == pytest.approx(5303624 / 7870368 * 100)
    assert polled.sample.error is None


async def test_windows_host_reports_fixed_drives_only_and_physical_memory(poll_recording):
    polled = await poll_recording("host-windows", kind="host")
    assert polled.profile == "host-generic"
    disks = polled.rows("disk")
    # A: is removable, D: a CD-ROM (always "full"), then Virtual and Physical Memory: none
    # of them is a disk that can fill up with recordings.
    assert sorted(disks) == [
        "C:\\ Label:  Serial Number 3ec33a66",
        "E:\\ Label:verep002  Serial Number d4c1ea4e",
        "F:\\ Label:verepmon002  Serial Number 2c0bbb0d",
    ]
    assert disks["E:\\ Label:verep002  Serial Number d4c1ea4e"]["used_pct"] == pytest.approx(
        422935855 / 457700831 * 100  # 92.4 %: the host rules open "disk nearly full"
    )
    assert disks["C:\\ Label:  Serial Number 3ec33a66"]["used_bytes"] == 8656207 * 4096
    assert polled.sample.metrics["mem_used_pct"] == pytest.approx(54242 / 655351 * 100)


async def test_a_nas_profile_on_the_same_agent_keeps_the_same_disks_as_storage(poll_recording):
    polled = await poll_recording("host-linux-net-snmp", kind="nas", profile="nas")
    assert sorted(polled.rows("storage")) == ["/", "/home"]


async def test_probes_the_device_does_not_answer_match_no_vendor_profile(poll_recording):
    # Every profile's probe OID (Synology modelName, ...) is asked for; this agent answers
    # noSuchObject to all of them, and a kind without a standard profile gets the fallback.
    polled = await poll_recording("host-linux-net-snmp", kind="camera")
    assert polled.profile == "fallback"
    assert polled.sample.reachable and polled.sample.error is None
