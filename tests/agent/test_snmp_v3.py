"""SNMPv3 (USM) against real snmpd users: polls, per-device auth errors, strict credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from roomwatch.agent.config import SnmpCredential, load_config
from roomwatch.agent.errors import ConfigError
from roomwatch.collector.demo.simdevice import DeviceSpec, SimUser, ptz_camera, ups
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
AUTH_KEY = "v3-auth-Key-91f2"
PRIV_KEY = "v3-priv-Key-5c7e"


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
    poller = make_poller([camera], profile_registry)
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
    poller = make_poller([camera], profile_registry)
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
    poller = make_poller([healthy], profile_registry, timeout_s=1.0,
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
    ("change", "error"),
    [
        ({"username": "nobody"}, "unknown SNMPv3 user"),
        ({"priv_key": "wrong-Priv-Key-000"}, "timeout"),  # snmpd drops what it cannot decrypt
        ({"auth_protocol": "md5"}, "authentication failed (wrong auth key or auth protocol)"),
    ],
)
async def test_other_v3_mistakes_fail_that_device_with_a_reason(
    sim_devices, profile_registry, change, error
):
    [camera] = sim_devices(v3_camera())
    right = {"version": "v3", "username": "roomwatch", "auth_protocol": "sha",
             "auth_key": AUTH_KEY, "priv_protocol": "aes", "priv_key": PRIV_KEY}  # fmt: skip
    credential = SnmpCredential.model_validate(right | change)
    poller = make_poller([], profile_registry, timeout_s=0.5,
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
    poller = make_poller(devices, profile_registry)
    try:
        for _ in range(2):
            samples = await poller.poll_all()
    finally:
        poller.close()
    assert [(s.device, s.reachable) for s in samples] == [
        ("cam1", True), ("cam2", True), ("ups1", True),
    ]  # fmt: skip


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
