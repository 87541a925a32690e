"""Traps from simulated devices: net-snmp's ``snmptrap`` (Debian package ``snmp``), the way a
real device's agent sends them, to a listener on 127.0.0.1.

v1 traps are built from the v2 trap OID as RFC 3584 maps them back: the standard traps
under 1.3.6.1.6.3.1.1.5 become generic traps 0..5 of the device's sysObjectID, any other
``<enterprise>.0.<n>`` (or ``<enterprise>.<n>``) becomes enterprise-specific trap n.
Values are typed as in snmpd's ``override`` (``("integer", 3)``, ``("octet_str", "x")``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from roomwatch.collector.demo.simspecs import SimulatorError, SimUser, Typed

TrapVersion = Literal["v1", "v2c", "v3"]
HOST = "127.0.0.1"
SEND_TIMEOUT_S = 10.0
_TYPE_LETTERS = {"integer": "i", "uinteger": "u", "counter": "c", "octet_str": "s",
                 "timeticks": "t", "object_id": "o"}  # fmt: skip
_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
         "sha384": "SHA-384", "sha512": "SHA-512"}  # fmt: skip
_PRIV = {"des": "DES", "aes": "AES", "aes192": "AES192", "aes256": "AES256",
         "aes192c": "AES192C", "aes256c": "AES256C"}  # fmt: skip
_STANDARD_TRAPS = "1.3.6.1.6.3.1.1.5."


def snmptrap_path() -> str:
    found = shutil.which("snmptrap")
    if found is None:
        raise SimulatorError(
            "snmptrap not found: install the Debian package 'snmp' (apt-get install snmp)"
        )
    return found


def send_trap(
    port: int,
    trap_oid: str,
    varbinds: Mapping[str, Typed],
    *,
    version: TrapVersion,
    community: str,
    user: SimUser | None,
    engine_id: bytes,
    enterprise: str,
    inform: bool = False,
    state_dir: Path | None = None,
) -> None:
    """Send one trap (or, with ``inform``, an acknowledged inform) and wait until it is out."""
    # An inform's receiver is authoritative: snmptrap discovers its engine ID instead.
    sender_engine = None if inform else engine_id
    command = [snmptrap_path(), *_security_args(version, community, user, sender_engine)]
    if inform:
        command += ["-Ci", "-t", "2", "-r", "1"]
    command.append(f"udp:{HOST}:{port}")
    command += _pdu_args(version, trap_oid.lstrip("."), enterprise.lstrip("."))
    for oid, (kind, value) in varbinds.items():
        command += [oid, _TYPE_LETTERS[kind], str(value)]
    env = {**os.environ, "MIBS": "", "SNMPCONFPATH": "/nonexistent"}
    if state_dir is not None:  # snmptrap keeps v3 engine boots here; not in /var/lib
        env["SNMP_PERSISTENT_DIR"] = str(state_dir / "snmptrap")
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=SEND_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise SimulatorError(f"snmptrap failed: {done.stderr.strip()[-300:]}")


def _security_args(
    version: TrapVersion, community: str, user: SimUser | None, engine_id: bytes | None
) -> list[str]:
    if version != "v3":
        return ["-v", "1" if version == "v1" else "2c", "-c", community]
    assert user is not None
    args = ["-v", "3", "-u", user.username, "-l", user.security_level]
    if engine_id is not None:
        args += ["-e", "0x" + engine_id.hex()]
    if user.auth_key is not None:
        args += ["-a", _AUTH[user.auth_protocol], "-A", user.auth_key]
    if user.priv_key is not None:
        args += ["-x", _PRIV[user.priv_protocol], "-X", user.priv_key]
    return args


def _pdu_args(version: TrapVersion, trap_oid: str, enterprise: str) -> list[str]:
    if version != "v1":
        return ["", trap_oid]  # '' = the sender's own uptime
    if trap_oid.startswith(_STANDARD_TRAPS) and trap_oid.count(".") == 9:
        generic = int(trap_oid.rsplit(".", 1)[1]) - 1
        return [enterprise, HOST, str(generic), "0", ""]
    parent, specific = trap_oid.rsplit(".", 1)
    if parent.endswith(".0"):
        parent = parent[:-2]
    return [parent, HOST, "6", specific, ""]
