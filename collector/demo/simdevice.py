"""Simulated SNMP devices for tests, the demo and benchmarks: one real net-snmp ``snmpd``
per device, on a free UDP port of 127.0.0.1.

A ``DeviceSpec`` (see ``simspecs``) gives a device's sysDescr/sysObjectID and its values by
profile metric name. Every value is an ``override -rw`` line of snmpd's config, so it can be
changed at run time with SNMP SET on a separate control community: ``set_values`` takes
metric names, ``set_rows`` table rows, ``set_raw`` typed values by OID. ``unplug()`` stops
the process (SIGSTOP: it no longer answers), ``plug()`` lets it go on. Processes are killed
on ``stop()`` and at interpreter exit; a missing ``snmpd`` is an error naming the package.

``DeviceSpec.users`` adds SNMPv3 users (``createUser`` + ``rouser`` lines); ``credential()``
is then the first user's. ``send_trap()`` sends v1/v2c/v3 traps and informs as the device
(``simtraps``, net-snmp's ``snmptrap``). Badly behaved devices are in ``simfaulty``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from roomwatch.agent.config import DeviceConfig, SnmpCredential
from roomwatch.agent.snmp.client import SnmpClient, SnmpError, SnmpTarget
from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.collector.demo.simkit import room_device_spec, room_kit
from roomwatch.collector.demo.simspecs import (
    DeviceSpec,
    SimRow,
    SimulatorError,
    SimUser,
    Typed,
    Value,
    encode,
    encoder,
    initial_values,
    nas,
    poe_switch,
    projector,
    ptz_camera,
    storage_row,
    ups,
)
from roomwatch.collector.demo.simtraps import TrapVersion, send_trap

__all__ = [
    "DeviceSpec", "SimRow", "SimUser", "SimulatedDevice", "SimulatorError", "encoder",
    "free_udp_port",
    "nas", "poe_switch", "projector", "ptz_camera", "room_device_spec", "room_kit",
    "snmpd_path", "storage_row", "ups",
]  # fmt: skip

HOST = "127.0.0.1"
CONTROL_COMMUNITY = "roomwatch-sim-control"
START_TIMEOUT_S = 20.0  # snmpd starts in ~50 ms; a loaded CI machine needs the margin
SET_TIMEOUT_S = 0.5


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def snmpd_path() -> str:
    """The snmpd binary; SimulatorError naming the Debian package when it is missing."""
    found = shutil.which("snmpd") or shutil.which("snmpd", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SimulatorError(
            "snmpd not found: install the Debian package 'snmpd' (apt-get install snmpd)"
        )
    return found


@functools.cache
def _builtin_profiles() -> ProfileRegistry:
    return ProfileRegistry.load()


class SimulatedDevice:
    """One device served by its own snmpd process; see the module docstring.

    ``workdir`` keeps the config and log there (left in place); by default a temporary
    folder is used and removed on ``stop()``.
    """

    def __init__(
        self,
        spec: DeviceSpec,
        registry: ProfileRegistry | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.profile = (registry or _builtin_profiles()).get(spec.profile)
        self.served: dict[str, Typed] = initial_values(spec, self.profile)
        self.port = 0
        self._given_workdir = workdir
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._unplugged = False
        self._client = SnmpClient()

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def plugged(self) -> bool:
        """Running and answering (not unplugged)."""
        return self.running and not self._unplugged

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> SimulatedDevice:
        if self.running:
            return self
        binary = snmpd_path()
        if self._given_workdir is not None:
            self._workdir = Path(self._given_workdir)
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"roomwatch-sim-{self.spec.name}-"))
        for _attempt in range(3):  # another process may take the port before snmpd binds it
            self.port = free_udp_port()
            if self._launch(binary):
                _LIVE.add(self)
                return self
        tail = self._log_tail()
        self.stop()
        raise SimulatorError(f"{self.spec.name}: snmpd did not start: {tail}")

    def stop(self) -> None:
        """Kill the process (even when unplugged) and remove its temporary files."""
        process, self._process, self._unplugged = self._process, None, False
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _LIVE.discard(self)
        self._client.close()
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    def unplug(self) -> None:
        """The device stops answering (its process is stopped, not killed)."""
        self._signal(signal.SIGSTOP)
        self._unplugged = True

    def plug(self) -> None:
        self._signal(signal.SIGCONT)
        self._unplugged = False

    def device_config(self, **overrides: Any) -> DeviceConfig:
        """A DeviceConfig that points the agent at this device."""
        fields: dict[str, Any] = {
            "id": self.spec.name,
            "kind": self.spec.kind,
            "address": HOST,
            "port": self.port,
        }
        return DeviceConfig(**(fields | overrides))

    @property
    def engine_id(self) -> bytes:
        """The SNMPv3 engine ID this device sends its traps with."""
        return bytes.fromhex("80001f8804") + self.spec.name.encode()[:24]

    def credential(self, version: str | None = None) -> SnmpCredential:
        """What the agent must use: the first SNMPv3 user if the spec has one (or
        ``version="v3"``), else the read-only community."""
        if version == "v2c" or (version is None and not self.spec.users):
            return SnmpCredential(community=SecretStr(self.spec.community))
        if not self.spec.users:
            raise SimulatorError(f"{self.spec.name}: no SNMPv3 user in the spec")
        return user_credential(self.spec.users[0])

    def send_trap(
        self,
        port: int,
        trap_oid: str,
        varbinds: Mapping[str, Typed] | None = None,
        *,
        version: TrapVersion = "v2c",
        community: str | None = None,
        user: SimUser | None = None,
        inform: bool = False,
    ) -> None:
        """Send a notification to 127.0.0.1:``port`` as this device would (net-snmp's
        ``snmptrap``): v1/v2c with its community, v3 as its first user from its engine ID."""
        chosen_user = user or (self.spec.users[0] if self.spec.users else None)
        if version == "v3" and chosen_user is None:
            raise SimulatorError(f"{self.spec.name}: no SNMPv3 user to send a v3 trap as")
        send_trap(
            port, trap_oid, dict(varbinds or {}), version=version,
            community=community or self.spec.community, user=chosen_user,
            engine_id=self.engine_id, enterprise=self.spec.sys_object_id, inform=inform,
            state_dir=self._workdir,
        )  # fmt: skip

    def set_values(
        self, values: Mapping[str, Value], table: str | None = None, index: int | str | None = None
    ) -> None:
        """Serve new values by metric name (in ``table``: also label names) from now on.

        Usable with or without a running event loop; async code may await
        ``set_values_async`` instead.
        """
        _run(self.set_values_async(values, table, index))

    def set_rows(self, table: str, rows: Mapping[int | str, Mapping[str, Value]]) -> None:
        """``set_values`` for several rows of ``table``: {index: {metric name: value}}."""
        changes: dict[str, Typed] = {}
        for index, values in rows.items():
            changes.update(encode(self.profile, values, {**self.served, **changes}, table, index))
        self.set_raw(changes)

    def set_raw(self, changes: Mapping[str, Typed]) -> None:
        """Serve new typed values by instance OID (identity strings, sysDescr, ...)."""
        client = SnmpClient()  # its own engine: this may run on another thread's loop
        try:
            _run(self._set(client, changes))
        finally:
            client.close()

    async def set_values_async(
        self, values: Mapping[str, Value], table: str | None = None, index: int | str | None = None
    ) -> None:
        await self.set_raw_async(encode(self.profile, values, self.served, table, index))

    async def set_raw_async(self, changes: Mapping[str, Typed]) -> None:
        await self._set(self._client, changes)

    async def _set(self, client: SnmpClient, changes: Mapping[str, Typed]) -> None:
        changes = {oid.lstrip("."): typed for oid, typed in changes.items()}
        unknown = sorted(set(changes) - set(self.served))
        if unknown:
            raise SimulatorError(
                f"{self.spec.name}: not served since start (add it to the spec): {unknown}"
            )
        control = SnmpCredential(community=SecretStr(CONTROL_COMMUNITY))
        target = SnmpTarget(HOST, self.port, control, SET_TIMEOUT_S, 0)
        try:
            await client.set(target, changes)
        except SnmpError as exc:
            raise SimulatorError(f"{self.spec.name}: SET failed: {exc.reason}") from None
        self.served.update(changes)

    def __enter__(self) -> SimulatedDevice:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self, binary: str) -> bool:
        """Start snmpd on ``self.port``; False if it exited (port taken), True once ready."""
        assert self._workdir is not None
        config, log = self._workdir / "device.conf", self._workdir / "snmpd.log"
        config.write_text(_config_text(self.spec, self.served), encoding="utf-8")
        log.write_text("", encoding="utf-8")
        # snmpd writes its own state as <persistent dir>/snmpd.conf: keep it apart.
        persistent = self._workdir / "persistent"
        persistent.mkdir(exist_ok=True)
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persistent), "MIBS": ""}
        command = [binary, "-f", "-Lf", str(log), "-C", "-c", str(config),
                   "-I", "override,vacm_conf,usmConf", f"udp:{HOST}:{self.port}"]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            # snmpd logs its version once its port is open and it answers.
            if "NET-SNMP version" in log.read_text(encoding="utf-8", errors="replace"):
                return True
            if self._process.poll() is not None:
                return False
            time.sleep(0.01)
        tail = self._log_tail()
        self.stop()
        raise SimulatorError(f"{self.spec.name}: snmpd not ready in {START_TIMEOUT_S}s: {tail}")

    def _signal(self, signum: int) -> None:
        if self._process is None or not self.running:
            raise SimulatorError(f"{self.spec.name}: not running")
        self._process.send_signal(signum)

    def _log_tail(self) -> str:
        log = self._workdir / "snmpd.log" if self._workdir else None
        if log is None or not log.exists():
            return "no log"
        lines = log.read_text(errors="replace").splitlines()
        return " | ".join(line for line in lines if "MIB" not in line)[-500:]


_LIVE: set[SimulatedDevice] = set()


@atexit.register
def _stop_all() -> None:
    for device in list(_LIVE):
        device.stop()


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


def _die_with_parent() -> None:
    # Linux: snmpd gets SIGKILL if the Python process dies without running atexit hooks.
    # (The starting *thread* counts: start devices from a thread that lives as long.)
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def user_credential(user: SimUser) -> SnmpCredential:
    """The agent's credential for a simulated device's SNMPv3 user."""
    fields: dict[str, Any] = {"version": "v3", "username": user.username}
    if user.auth_key is not None:
        fields |= {"auth_protocol": user.auth_protocol, "auth_key": SecretStr(user.auth_key)}
    if user.priv_key is not None:
        fields |= {"priv_protocol": user.priv_protocol, "priv_key": SecretStr(user.priv_key)}
    return SnmpCredential(**fields)


_NET_SNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
                  "sha384": "SHA-384", "sha512": "SHA-512"}  # fmt: skip
_NET_SNMP_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES192", "aes256": "AES256",
                  "aes192c": "AES192C", "aes256c": "AES256C"}  # fmt: skip
_NET_SNMP_LEVEL = {"noAuthNoPriv": "noauth", "authNoPriv": "auth", "authPriv": "priv"}


def _user_lines(user: SimUser) -> list[str]:
    """net-snmp reads ``createUser`` from the -c file too (with -C it reads no other)."""
    create = f"createUser {user.username}"
    if user.auth_key is not None:
        create += f' {_NET_SNMP_AUTH[user.auth_protocol]} "{user.auth_key}"'
        if user.priv_key is not None:
            create += f' {_NET_SNMP_PRIV[user.priv_protocol]} "{user.priv_key}"'
    return [create, f"rouser {user.username} {_NET_SNMP_LEVEL[user.security_level]}"]


def _config_text(spec: DeviceSpec, served: Mapping[str, Typed]) -> str:
    for text in (spec.community, *(v for _t, v in served.values() if isinstance(v, str))):
        if any(c in text for c in '"\n\r\\'):
            raise SimulatorError(f"{spec.name}: {text!r} has a quote, backslash or newline")
    for user in spec.users:
        if any(c in t for t in (user.username, user.auth_key or "", user.priv_key or "")
               for c in '"\n\r\\ \t'):  # fmt: skip
            raise SimulatorError(f"{spec.name}: user {user.username!r}: quote, space or backslash")
    lines = [
        f"rocommunity {spec.community} {HOST}",
        f"rwcommunity {CONTROL_COMMUNITY} {HOST}",
        "dontLogTCPWrappersConnects yes",
        *(line for user in spec.users for line in _user_lines(user)),
    ]
    for oid, (kind, value) in sorted(served.items(), key=lambda item: _oid_key(item[0])):
        shown = f'"{value}"' if kind == "octet_str" else value
        shown = f".{value}" if kind == "object_id" else shown
        lines.append(f"override -rw .{oid} {kind} {shown}")
    return "\n".join(lines) + "\n"


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))
