"""Where SNMP credentials become what goes on the wire: community octets for the v2c codec,
pysnmp auth data for SNMPv3 (and SET), and what the trap receiver accepts.

The only module that reads a community or a key's secret value. Nothing here logs, and no
error raised here contains a secret. pysnmp's own debug logging (``pysnmp.debug``) prints
localized keys and must never be switched on in the agent. pysnmp is imported only by the
functions that need it: an agent polling v2c devices only never loads it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from roomwatch.agent.config import AuthProtocol, PrivProtocol, SnmpCredential

# Names in pysnmp.entity.config, looked up when a v3 credential is first used.
AUTH_PROTOCOLS: dict[AuthProtocol, str] = {
    "md5": "USM_AUTH_HMAC96_MD5",
    "sha": "USM_AUTH_HMAC96_SHA",
    "sha224": "USM_AUTH_HMAC128_SHA224",
    "sha256": "USM_AUTH_HMAC192_SHA256",
    "sha384": "USM_AUTH_HMAC256_SHA384",
    "sha512": "USM_AUTH_HMAC384_SHA512",
}
# aes192/aes256 extend short keys as net-snmp's AES192/AES256 do (draft-blumenthal);
# aes192c/aes256c as Cisco and net-snmp's AES192C/AES256C do (draft-reeder).
PRIV_PROTOCOLS: dict[PrivProtocol, str] = {
    "des": "USM_PRIV_CBC56_DES",
    "aes": "USM_PRIV_CFB128_AES",
    "aes192": "USM_PRIV_CFB192_AES_BLUMENTHAL",
    "aes256": "USM_PRIV_CFB256_AES_BLUMENTHAL",
    "aes192c": "USM_PRIV_CFB192_AES",
    "aes256c": "USM_PRIV_CFB256_AES",
}


def community_octets(credential: SnmpCredential) -> bytes:
    """The v2c community as sent in a message: ISO-8859-1 as pysnmp encoded it, UTF-8 for
    text beyond it (which pysnmp refused)."""
    community = _community(credential)
    try:
        return community.encode("latin-1")
    except UnicodeEncodeError:
        return community.encode()


def auth_data(credential: SnmpCredential) -> Any:
    """The pysnmp auth data (CommunityData or UsmUserData) to send requests with."""
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData

    if credential.version == "v2c":
        return CommunityData(_community(credential), mpModel=1)
    return UsmUserData(credential.username or "", **usm_keys(credential))


def usm_keys(credential: SnmpCredential) -> dict[str, Any]:
    """Protocols and keys of a v3 credential, as UsmUserData keyword arguments."""
    from pysnmp.entity import config as lcd

    keys: dict[str, Any] = {}
    if credential.auth_key is not None and credential.auth_protocol is not None:
        keys["authKey"] = credential.auth_key.get_secret_value()
        keys["authProtocol"] = getattr(lcd, AUTH_PROTOCOLS[credential.auth_protocol])
    if credential.priv_key is not None and credential.priv_protocol is not None:
        keys["privKey"] = credential.priv_key.get_secret_value()
        keys["privProtocol"] = getattr(lcd, PRIV_PROTOCOLS[credential.priv_protocol])
    return keys


def credential_key(credential: SnmpCredential) -> str:
    """Equal for credentials pysnmp must treat as one; a digest, so no secret is kept in it."""
    digest = hashlib.sha256()
    secrets = (credential.community, credential.auth_key, credential.priv_key)
    parts = (
        credential.version,
        credential.username,
        credential.security_level,
        credential.auth_protocol,
        credential.priv_protocol,
        *(s.get_secret_value() if s is not None else None for s in secrets),
    )
    for part in parts:
        digest.update(repr(part).encode() + b"\0")
    return digest.hexdigest()


def accept_community(engine: Any, credential: SnmpCredential, security_name: str) -> None:
    """Let a v1/v2c notification with this credential's community in, as ``security_name``."""
    from pysnmp.entity import config as lcd

    lcd.add_v1_system(engine, security_name, _community(credential), securityName=security_name)


def accept_user(engine: Any, credential: SnmpCredential, engine_id: bytes | None) -> None:
    """Let v3 notifications from this credential's user in, keys localized to ``engine_id``
    (the sender's, for traps; None = this engine's own, for informs)."""
    from pysnmp.entity import config as lcd
    from pysnmp.proto import rfc1902

    keys = usm_keys(credential)
    lcd.add_v3_user(
        engine,
        credential.username or "",
        keys.get("authProtocol", lcd.USM_AUTH_NONE),
        keys.get("authKey"),
        keys.get("privProtocol", lcd.USM_PRIV_NONE),
        keys.get("privKey"),
        securityEngineId=None if engine_id is None else rfc1902.OctetString(engine_id),
    )


def _community(credential: SnmpCredential) -> str:
    return credential.community.get_secret_value() if credential.community else "public"
