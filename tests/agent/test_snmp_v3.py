"""SNMPv3 (USM) against real snmpd users and snmpsim: polls, per-device auth errors, values
of odd types, strict credentials."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest
from pydantic import SecretStr

from roomwatch.agent.config import DeviceConfig, SnmpConfig, SnmpCredential, load_config
from roomwatch.agent.errors import ConfigError
from roomwatch.agent.snmp.poller import SnmpPoller
from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.agent.snmp.recording import RecordingServer
from roomwatch.collector.demo.simdevice import DeviceSpec, SimUser, ptz_camera, ups
from roomwatch.collector.demo.simfaulty import SlowProxy
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
AUTH_KEY = "v3-auth-Key-91f2"
PRIV_KEY = "v3-priv-Key-5c7e"
# A poll that expects answers waits for each one generously: on a loaded machine (CI shares
# two cores) snmpd and the USM crypto can take longer than half a second, and a poll's whole
# deadline is 3 x timeout_s. The answers come at once when all is well, so it costs nothing.
ANSWER_TIMEOUT_S = 5.0
# Only where the test expects silence is the timeout short: it is waited out in full.
SILENCE_TIMEOUT_S = 0.5


@pytest.fixture
def anyio_backend():
    return "asyncio"


def v3_camera(name: str = "cam1", **user: str) -> DeviceSpec:
    spec = ptz_camera(name)
    fields = {"username": "roomwatch", "auth_key": AUTH_KEY, "priv_key": PRIV_KEY} | user
    spec.users = [SimUser(**fields)]
    return spec


@pytest.mark.parametrize(
    ("auth", "priv"),
    [("sha", "aes"), ("sha256", "aes"), ("sha512", "aes256"), ("sha", "aes256c"), ("md5", "des")],
)
async def test_poll_over_v3_auth_priv(sim_devices, profile_registry, auth, priv):
    [camera] = sim_devices(v3_camera(auth_protocol=auth, priv_protocol=priv))
    poller = make_poller([camera], profile_registry, timeout_s=ANSWER_TIMEOUT_S)
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert camera.credential().security_level == "authPriv"
    assert (sample.reachable, sample.error, sample.model) == (True, None, "PTZ-200")
    assert sample.metrics["temperature_c"] == pytest.approx(41.5)


async def test_poll_over_v3_auth_no_priv(sim_devices, profile_registry):
    spec = v3_camera(auth_protocol="sha256")
    spec.users = [SimUser("monitor", auth_key=AUTH_KEY, auth_protocol="sha256")]
    [camera] = sim_devices(spec)
    poller = make_poller([camera], profile_registry, timeout_s=ANSWER_TIMEOUT_S)
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert camera.credential().security_level == "authNoPriv"
    assert sample.reachable and sample.metrics["stream_fps"] == 25


async def test_a_wrong_auth_key_is_a_clear_error_of_that_device_only(
    sim_devices, profile_registry, caplog
):
    wrong_key = "wrong-Auth-Key-0000"
    [camera, healthy] = sim_devices(v3_camera("cam1"), ups("ups1"))
    wrong = SnmpCredential(
        version="v3", username="roomwatch", auth_protocol="sha", auth_key=SecretStr(wrong_key),
        priv_protocol="aes", priv_key=SecretStr(PRIV_KEY),
    )  # fmt: skip
    poller = make_poller([healthy], profile_registry, timeout_s=ANSWER_TIMEOUT_S,
                         others=[camera.device_config(credentials="wrong")],
                         extra_credentials={"wrong": wrong})  # fmt: skip
    caplog.set_level(logging.DEBUG)
    try:
        samples = {s.device: s for s in await poller.poll_all()}
    finally:
        poller.close()
    assert samples["ups1"].reachable
    failed = samples["cam1"]
    assert (failed.reachable, failed.error) == (
        False, "authentication failed (wrong auth key or auth protocol)",
    )  # fmt: skip
    assert "cam1" in caplog.text and "authentication failed" in caplog.text
    for secret in (wrong_key, AUTH_KEY, PRIV_KEY):
        assert secret not in caplog.text and secret not in failed.model_dump_json()


@pytest.mark.parametrize(
    ("change", "error", "timeout_s"),
    [
        ({"username": "nobody"}, "unknown SNMPv3 user", ANSWER_TIMEOUT_S),
        # snmpd drops what it cannot decrypt: no answer, however long the poller waits
        ({"priv_key": "wrong-Priv-Key-000"}, "timeout", SILENCE_TIMEOUT_S),
        (
            {"auth_protocol": "md5"},
            "authentication failed (wrong auth key or auth protocol)",
            ANSWER_TIMEOUT_S,
        ),
    ],
)
async def test_other_v3_mistakes_fail_that_device_with_a_reason(
    sim_devices, profile_registry, change, error, timeout_s
):
    [camera] = sim_devices(v3_camera())
    right = {"version": "v3", "username": "roomwatch", "auth_protocol": "sha",
             "auth_key": AUTH_KEY, "priv_protocol": "aes", "priv_key": PRIV_KEY}  # fmt: skip
    credential = SnmpCredential.model_validate(right | change)
    poller = make_poller([], profile_registry, timeout_s=timeout_s,
                         others=[camera.device_config(credentials="changed")],
                         extra_credentials={"changed": credential})  # fmt: skip
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert (sample.reachable, sample.error) == (False, error)


async def test_v2c_and_v3_devices_and_two_keys_for_one_user_name_poll_side_by_side(
    sim_devices, profile_registry
):
    first = v3_camera("cam1")
    second = v3_camera("cam2", auth_key="other-Auth-Key-22", priv_key="other-Priv-Key-22")
    devices = sim_devices(first, second, ups("ups1"))
    poller = make_poller(devices, profile_registry, timeout_s=ANSWER_TIMEOUT_S)
    try:
        for _ in range(2):
            samples = await poller.poll_all()
    finally:
        poller.close()
    assert [(s.device, s.reachable) for s in samples] == [
        ("cam1", True), ("cam2", True), ("ups1", True),
    ]  # fmt: skip


BASE = "1.3.6.1.4.1.2021.100"
OPAQUE_PROFILE = f"""
name: opaque-sensor
kind: sensor
extends: [generic-system]
metrics:
  - {{name: load_pct, oid: {BASE}.1.0}}
  - {{name: load_average, oid: {BASE}.2.0}}
  - {{name: vendor_blob, oid: {BASE}.3.0}}
"""


async def test_opaque_values_over_v3_authpriv_read_as_over_v2c(tmp_path):
    """snmpsim (pysnmp's agent) serves Opaques: net-snmp's float is read as the number, any
    other Opaque is dropped and counted, and the reply's other values are kept."""
    (tmp_path / "opaque-sensor.yaml").write_text(OPAQUE_PROFILE, encoding="utf-8")
    recording = tmp_path / "self.snmprec"  # what snmpsim answers in the default v3 context
    opaque_float = b"\x9f\x78\x04" + struct.pack(">f", 0.25)
    recording.write_text(
        "1.3.6.1.2.1.1.1.0|4|sensor box\n1.3.6.1.2.1.1.3.0|67|4200\n"
        f"{BASE}.1.0|2|42\n{BASE}.2.0|68x|{opaque_float.hex()}\n{BASE}.3.0|68x|010203\n",
        encoding="utf-8",
    )
    user = ["--v3-user=roomwatch", f"--v3-auth-key={AUTH_KEY}", "--v3-auth-proto=SHA",
            f"--v3-priv-key={PRIV_KEY}", "--v3-priv-proto=AES"]  # fmt: skip
    credential = SnmpCredential(
        version="v3", username="roomwatch", auth_protocol="sha", auth_key=SecretStr(AUTH_KEY),
        priv_protocol="aes", priv_key=SecretStr(PRIV_KEY),
    )  # fmt: skip
    with RecordingServer([recording], responder_args=user) as server:
        device = DeviceConfig(id="sensor", kind="sensor", address="127.0.0.1", port=server.port,
                              credentials="v3", profile="opaque-sensor")  # fmt: skip
        config = SnmpConfig(credentials={"v3": credential}, timeout_s=ANSWER_TIMEOUT_S)  # type: ignore[arg-type]
        poller = SnmpPoller(config, [device], ProfileRegistry.load([tmp_path]))
        try:
            [sample] = await poller.poll_all()
        finally:
            poller.close()
    assert credential.security_level == "authPriv"
    assert (sample.reachable, sample.error) == (True, None)
    assert sample.metrics == {"uptime_s": 42.0, "load_pct": 42, "load_average": 0.25}
    assert poller.odd_values == 1  # the Opaque that is not a float


async def test_types_pysnmp_does_not_know_drop_only_their_value_over_v3(
    sim_devices, profile_registry
):
    """An NsapAddress and an IpAddress of 6 octets, which net-snmp cannot serve: a proxy
    retypes two of the camera's texts on their way back (noAuthNoPriv: nothing signs the
    message). pysnmp's own decoding refused the whole reply; the device seemed down."""
    spec = ptz_camera("cam1")
    spec.users = [SimUser("plain")]
    [camera] = sim_devices(spec)
    retyped = {b"\x04\x094096 Kbps": b"\x45\x094096 Kbps", b"\x04\x06512 MB": b"\x40\x06512 MB"}

    def retype(reply: bytes) -> bytes:
        for served, odd in retyped.items():
            reply = reply.replace(served, odd)
        return reply

    with SlowProxy(camera.address, delay_s=0.0, rewrite=retype) as proxy:
        poller = make_poller([], profile_registry, timeout_s=ANSWER_TIMEOUT_S,
                             others=[proxy.device_config("cam1", credentials="plain")],
                             extra_credentials={"plain": camera.credential()})  # fmt: skip
        try:
            [sample] = await poller.poll_all()
        finally:
            poller.close()
    assert camera.credential().security_level == "noAuthNoPriv"
    assert (sample.reachable, sample.error, sample.model) == (True, None, "PTZ-200")
    assert sample.metrics["temperature_c"] == pytest.approx(41.5)
    assert sample.metrics["stream_fps"] == 25
    assert "stream_bitrate_kbps" not in sample.metrics
    assert "memory_free_bytes" not in sample.metrics
    assert poller.odd_values == 2


CREDENTIAL_ERRORS = [
    ({"priv_protocol": "aes", "priv_key": PRIV_KEY}, "priv_key needs auth_key"),
    ({"auth_key": AUTH_KEY}, "auth_key and auth_protocol go together"),
    ({"auth_protocol": "sha", "auth_key": "short"}, "at least 8 characters"),
    (
        {"auth_protocol": "sha", "auth_key": AUTH_KEY, "security_level": "authPriv"},
        "authPriv needs auth_key and priv_key",
    ),
    ({"auth_protocol": "sha1", "auth_key": AUTH_KEY}, "auth_protocol"),
    ({"community": "public"}, "community: only for version: v2c"),
]


@pytest.mark.parametrize(("fields", "expected"), CREDENTIAL_ERRORS)
def test_v3_credentials_are_checked_strictly_and_errors_never_show_a_key(
    tmp_path: Path, fields, expected
):
    lines = "".join(f"      {key}: {value}\n" for key, value in fields.items())
    path = tmp_path / "agent.yaml"
    path.write_text(
        "agent_id: room-101\nsnmp:\n  credentials:\n    cam:\n"
        f"      version: v3\n      username: roomwatch\n{lines}"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert expected in message and "snmp.credentials.cam" in message
    for secret in (AUTH_KEY, PRIV_KEY, "short"):
        assert secret not in message


def test_v2c_credentials_refuse_v3_fields_and_v3_needs_a_user() -> None:
    with pytest.raises(ValueError, match="username: only for version: v3"):
        SnmpCredential(username="roomwatch")
    with pytest.raises(ValueError, match="v3 needs a username"):
        SnmpCredential(version="v3")
    credential = SnmpCredential(version="v3", username="watch")
    assert credential.security_level == "noAuthNoPriv"
    assert SnmpCredential().community is not None


def test_traps_name_known_credentials_only(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("agent_id: room-101\nsnmp:\n  traps:\n    credentials: [nope]\n")
    with pytest.raises(ConfigError, match=r"traps\.credentials names 'nope'"):
        load_config(path)
