"""The v2c path (the agent's codec and UDP transport) against real agents: snmpd serving
every value type, the same device read through pysnmp for comparison, and an agent played
by the test on a real UDP socket where snmpd cannot misbehave on demand (tooBig, garbage,
replies from the wrong address or with the wrong request-id)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyasn1.codec.ber import decoder, encoder
from pydantic import SecretStr
from pysnmp.proto import api, rfc1902

from roomwatch.agent.config import SnmpCredential
from roomwatch.agent.snmp.client import Counter, SnmpClient, SnmpError, SnmpTarget, TableCutOff
from roomwatch.agent.snmp.pysnmp_path import PysnmpSession
from roomwatch.agent.snmp.v2c import V2cSession
from roomwatch.agent.snmp.values import END_OF_MIB
from roomwatch.collector.demo.simdevice import (
    SimUser,
    free_udp_port,
    poe_switch,
    ptz_camera,
    snmpd_path,
)

pytestmark = pytest.mark.anyio
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
COMMUNITY = "typed-values-community"
E = "1.3.6.1.4.1.55555"
# What snmpd serves (``override`` and a ``pass`` script), and what the agent must read.
TYPED = {
    f"{E}.1.1.0": ("override", "integer -5", -5),
    f"{E}.1.2.0": ("override", "counter 4294967295", Counter(4294967295, 32)),
    f"{E}.1.3.0": ("override", "uinteger 4294967295", 4294967295),  # Gauge32
    f"{E}.1.4.0": ("override", "timeticks 123456", 123456),
    f"{E}.1.5.0": ("override", 'octet_str "h\u00e9llo w\u00f6rld"', "h\u00e9llo w\u00f6rld"),
    f"{E}.1.6.0": ("override", "object_id .1.3.6.1.4.1.9999.200.100000",
                   "1.3.6.1.4.1.9999.200.100000"),
    f"{E}.77.1": ("pass", "counter64 18446744073709551615", Counter(2**64 - 1, 64)),
    f"{E}.77.2": ("pass", "counter64 9223372036854775808", Counter(2**63, 64)),
    f"{E}.77.3": ("pass", "counter64 1234", Counter(1234, 64)),
    f"{E}.77.4": ("pass", "ipaddress 10.20.30.250", "10.20.30.250"),
    f"{E}.77.5": ("pass", "integer -2147483648", -2147483648),
    f"{E}.77.6": ("pass", "octet 68 69 00 00", "hi"),  # trailing NULs stripped
}  # fmt: skip
LAST_IN_MIB = {"2.25.7.1": 1, "2.25.7.2": 2}  # .2.25 sorts after every other OID served
IF_COLUMNS = [
    "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.18", "1.3.6.1.2.1.2.2.1.8",
    "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.31.1.1.1.15", "1.3.6.1.2.1.2.2.1.10",
    "1.3.6.1.2.1.2.2.1.16", "1.3.6.1.2.1.2.2.1.14",
]  # fmt: skip


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def typed_snmpd(tmp_path: Path) -> Iterator[SnmpTarget]:
    """An snmpd serving ``TYPED`` and ``LAST_IN_MIB``; the target to read it with."""
    passed = {oid: value for oid, (kind, value, _) in TYPED.items() if kind == "pass"}
    script = tmp_path / "typed-values.sh"
    script.write_text(_pass_script(f"{E}.77", passed))
    script.chmod(0o755)
    lines = [f"rocommunity {COMMUNITY} 127.0.0.1", f"pass .{E}.77 {script}"]
    lines += [f"override .{oid} {value}" for oid, (kind, value, _) in TYPED.items()
              if kind == "override"]  # fmt: skip
    lines += [f"override .{oid} integer {value}" for oid, value in LAST_IN_MIB.items()]
    (tmp_path / "snmpd.conf").write_text("\n".join(lines) + "\n")
    (tmp_path / "persistent").mkdir()
    log = tmp_path / "snmpd.log"
    port = free_udp_port()
    process = subprocess.Popen(
        [snmpd_path(), "-f", "-Lf", str(log), "-C", "-c", str(tmp_path / "snmpd.conf"),
         "-I", "override,vacm_conf,pass", f"udp:127.0.0.1:{port}"],
        env={**os.environ, "SNMP_PERSISTENT_DIR": str(tmp_path / "persistent"), "MIBS": ""},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "NET-SNMP version" in log.read_text(errors="replace")):
            assert process.poll() is None and time.monotonic() < deadline, "snmpd did not start"
            time.sleep(0.01)
        credential = SnmpCredential(community=SecretStr(COMMUNITY))
        yield SnmpTarget("127.0.0.1", port, credential, timeout_s=2.0, retries=1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pass_script(base: str, values: dict[str, str]) -> str:
    """An snmpd ``pass`` script (GET -g, GETNEXT -n) serving typed ``values`` under ``base``."""
    ordered = sorted(values, key=lambda oid: [int(arc) for arc in oid.split(".")])
    get = "".join(f"  .{oid}) printf '.{oid}\\n{values[oid].split(' ', 1)[0]}\\n"
                  f"{values[oid].split(' ', 1)[1]}\\n' ;;\n" for oid in ordered)  # fmt: skip
    after = {f".{base}": ordered[0]} | {f".{a}": b for a, b in itertools.pairwise(ordered)}
    next_ = "".join(f'  {asked}) exec "$0" -g .{oid} ;;\n' for asked, oid in after.items())
    return (f'#!/bin/sh\nif [ "$1" = -g ]; then case "$2" in\n{get}  *) echo NONE ;;\n'
            f'esac; elif [ "$1" = -n ]; then case "$2" in\n{next_}esac; fi\n')  # fmt: skip


async def test_every_value_type_is_read_as_pysnmp_read_it(typed_snmpd: SnmpTarget) -> None:
    client, pysnmp = SnmpClient(), PysnmpSession()
    missing = f"{E}.1.99.0"
    try:
        found = await client.get(typed_snmpd, [*TYPED, missing])
        status, through_pysnmp = await pysnmp.get(typed_snmpd, [*TYPED, missing])
    finally:
        client.close()
        pysnmp.close()
    assert found == {oid: expected for oid, (_, _, expected) in TYPED.items()}
    assert status is None
    assert through_pysnmp[:-1] == list(found.items())  # same OIDs, same values, same order
    assert through_pysnmp[-1] == (missing, None)  # noSuchObject: left out of get()


async def test_the_end_of_the_mib_ends_a_walk(typed_snmpd: SnmpTarget) -> None:
    client, session = SnmpClient(max_repetitions=5), V2cSession()
    try:
        rows = await client.walk_columns(typed_snmpd, ["2.25.7"])
        past_the_end = await session.bulk(typed_snmpd, ["2.25.7.2"], 3)
    finally:
        client.close()
        session.close()
    assert rows == {"2.25.7": {"1": 1, "2": 2}}
    assert past_the_end.error_status == 0 and past_the_end.varbinds
    assert {value for _oid, value in past_the_end.varbinds} == {END_OF_MIB}
    assert past_the_end.varbinds[0] == ("2.25.7.2", END_OF_MIB)


async def test_a_table_walk_reads_the_same_through_v2c_and_through_pysnmp(sim_devices) -> None:
    spec = poe_switch("sw48", ports=48)
    spec.users = [SimUser("walker", auth_key="walker-auth-key", priv_key="walker-priv-key")]
    [switch] = sim_devices(spec)
    v2c = SnmpTarget(*switch.address, switch.credential("v2c"), timeout_s=2.0)
    v3 = SnmpTarget(*switch.address, switch.credential("v3"), timeout_s=2.0)
    client, raw_v2c, raw_pysnmp = SnmpClient(max_repetitions=7), V2cSession(), PysnmpSession()
    try:
        ours = await client.walk_columns(v2c, IF_COLUMNS)
        theirs = await client.walk_columns(v3, IF_COLUMNS)  # SNMPv3 goes through pysnmp
        sized = await client.walk_columns(v2c, IF_COLUMNS, expected_rows=48)
        page = await raw_v2c.bulk(v2c, IF_COLUMNS, 9)
        page_pysnmp = await raw_pysnmp.bulk(v2c, IF_COLUMNS, 9)  # v2c through pysnmp
    finally:
        client.close()
        raw_v2c.close()
        raw_pysnmp.close()
    assert ours == theirs == sized
    assert [len(rows) for rows in ours.values()] == [48] * len(IF_COLUMNS)
    assert ours["1.3.6.1.2.1.2.2.1.10"]["7"] == Counter(7_000_000, 32)
    assert (page.error_status, page.varbinds) == (0, page_pysnmp[1]) and page_pysnmp[0] is None
    assert len(page.varbinds) == 9 * len(IF_COLUMNS)


async def test_a_port_nobody_answers_times_out_after_its_retries() -> None:
    client = SnmpClient()
    target = SnmpTarget("127.0.0.1", free_udp_port(), timeout_s=0.2, retries=1)
    try:
        with pytest.raises(SnmpError) as failed:
            await client.get(target, ["1.3.6.1.2.1.1.3.0"])
    finally:
        client.close()
    assert failed.value.reason == "timeout" and str(failed.value) == "timeout"


async def test_a_wrong_community_times_out_and_is_never_shown(sim_devices) -> None:
    [camera] = sim_devices(ptz_camera("cam1"))
    secret = "Wrong-Community-5e7f"
    target = SnmpTarget(*camera.address, SnmpCredential(community=SecretStr(secret)),
                        timeout_s=0.2, retries=0)  # fmt: skip
    client = SnmpClient()
    try:
        with pytest.raises(SnmpError) as failed:
            await client.walk_columns(target, ["1.3.6.1.2.1.1"])
        right = await client.get(
            SnmpTarget(*camera.address, camera.credential()), ["1.3.6.1.2.1.1.1.0"]
        )
    finally:
        client.close()
    assert failed.value.reason == "timeout"
    assert secret not in f"{failed.value!s} {failed.value!r} {failed.value.args}"
    assert right == {"1.3.6.1.2.1.1.1.0": camera.spec.sys_descr}  # the same socket, right one


# -- an agent played by the test ----------------------------------------------------------


@dataclass
class Request:
    """One request as the played agent received it (decoded by pysnmp, not by our codec)."""

    kind: str
    request_id: int
    oids: list[str]
    max_repetitions: int
    message: object
    data: bytes

    @classmethod
    def decode(cls, data: bytes) -> Request:
        message, _ = decoder.decode(data, asn1Spec=V2C.Message())
        pdu = V2C.apiMessage.get_pdu(message)
        bulk = pdu.tagSet == V2C.GetBulkRequestPDU.tagSet
        return cls(
            kind="bulk" if bulk else "get",
            request_id=int(V2C.apiPDU.get_request_id(pdu)),
            oids=[str(oid) for oid, _ in V2C.apiPDU.get_varbinds(pdu)],
            max_repetitions=int(V2C.apiBulkPDU.get_max_repetitions(pdu)) if bulk else 0,
            message=message,
            data=data,
        )

    def reply(self, varbinds: list[tuple[str, object]], error_status: int = 0,
              request_id: int | None = None, community: str | None = None) -> bytes:  # fmt: skip
        response = V2C.apiMessage.get_response(self.message)
        pdu = V2C.apiMessage.get_pdu(response)
        V2C.apiPDU.set_varbinds(pdu, varbinds)
        V2C.apiPDU.set_error_status(pdu, error_status)
        if request_id is not None:
            V2C.apiPDU.set_request_id(pdu, request_id)
        if community is not None:
            V2C.apiMessage.set_community(response, community)
        return bytes(encoder.encode(response))


Answer = Callable[[Request, tuple[str, int]], list[bytes]]


class PlayedAgent(asyncio.DatagramProtocol):
    """Answers each request with the datagrams ``answer`` returns (none: silence)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = Request.decode(data)
        self.requests.append(request)
        assert self.transport is not None
        for reply in self.answer(request, addr):
            self.transport.sendto(reply, addr)


@contextlib.asynccontextmanager
async def played_agent(
    answer: Answer, timeout_s: float = 1.0, retries: int = 0
) -> AsyncIterator[tuple[PlayedAgent, SnmpTarget]]:
    loop = asyncio.get_running_loop()
    transport, agent = await loop.create_datagram_endpoint(
        lambda: PlayedAgent(answer), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        yield agent, SnmpTarget("127.0.0.1", port, timeout_s=timeout_s, retries=retries)
    finally:
        transport.close()


def numbered(request: Request) -> list[tuple[str, object]]:
    """Each OID asked for, with its last arc as an INTEGER value."""
    return [(oid, rfc1902.Integer32(int(oid.rsplit(".", 1)[1]))) for oid in request.oids]


def rows_after(request: Request, column: str, rows: int) -> list[tuple[str, object]]:
    """A GETBULK answer from a table whose ``column`` has rows 1 .. ``rows``; past its end,
    an OID outside it."""
    found: list[tuple[str, object]] = []
    for step in range(request.max_repetitions):
        for oid in request.oids:
            row = (int(oid.rsplit(".", 1)[1]) if oid != column else 0) + 1 + step
            found.append((f"{column}.{row}", rfc1902.Integer32(row)) if row <= rows
                         else ("1.3.6.1.99", rfc1902.Integer32(0)))  # fmt: skip
    return found


async def test_a_get_answered_too_big_is_split_in_halves_until_it_fits() -> None:
    def answer(request: Request, _addr) -> list[bytes]:
        return [request.reply(numbered(request), error_status=1 if len(request.oids) > 2 else 0)]

    oids = [f"1.3.6.1.4.1.55555.5.{n}" for n in range(1, 9)]
    client = SnmpClient(oids_per_get=8)
    async with played_agent(answer) as (agent, target):
        try:
            found = await client.get(target, oids)
        finally:
            client.close()
    assert found == {oid: int(oid.rsplit(".", 1)[1]) for oid in oids}
    assert [len(r.oids) for r in agent.requests] == [8, 4, 2, 2, 4, 2, 2]


async def test_one_oid_too_big_and_other_errors_are_named_as_pysnmp_named_them() -> None:
    statuses = iter([1, 5, 2, 42])

    def answer(request: Request, _addr) -> list[bytes]:
        return [request.reply(numbered(request), error_status=next(statuses))]

    client = SnmpClient()
    reasons = []
    async with played_agent(answer) as (_agent, target):
        try:
            for _ in range(4):
                with pytest.raises(SnmpError) as failed:
                    await client.get(target, ["1.3.6.1.4.1.55555.7.1"])
                reasons.append(failed.value.reason)
        finally:
            client.close()
    assert reasons == ["tooBig", "genErr", "noSuchName", "42"]


async def test_a_getbulk_answered_too_big_asks_for_half_the_rows() -> None:
    def answer(request: Request, _addr) -> list[bytes]:
        if request.max_repetitions > 3:
            return [request.reply([], error_status=1)]
        return [request.reply(rows_after(request, "1.3.6.1.4.1.55555.8", rows=10))]

    client = SnmpClient(max_repetitions=25)
    async with played_agent(answer) as (agent, target):
        try:
            rows = await client.walk_columns(target, ["1.3.6.1.4.1.55555.8"])
        finally:
            client.close()
    assert rows == {"1.3.6.1.4.1.55555.8": {str(n): n for n in range(1, 11)}}
    # 3 rows a page, 4 pages; each page halves again from max_repetitions, as pysnmp's did
    assert [r.max_repetitions for r in agent.requests] == [25, 12, 6, 3] * 4


async def test_garbage_wrong_addresses_and_wrong_ids_are_dropped_and_counted() -> None:
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))

    def answer(request: Request, addr) -> list[bytes]:
        right = request.reply(numbered(request))
        stranger.sendto(request.reply([(request.oids[0], rfc1902.Integer32(666))]), addr)
        return [
            b"\x30\x03\x02\x01\xff not snmp",
            right[: len(right) // 2],  # truncated
            request.reply(
                [(request.oids[0], rfc1902.Integer32(667))], request_id=request.request_id + 1
            ),
            request.reply([(request.oids[0], rfc1902.Integer32(668))], community="other"),
            right,
        ]

    malformed = []
    client = SnmpClient(on_malformed=lambda: malformed.append(1))
    async with played_agent(answer) as (_agent, target):
        try:
            found = await client.get(target, ["1.3.6.1.4.1.55555.10.5"])
        finally:
            client.close()
            stranger.close()
    assert found == {"1.3.6.1.4.1.55555.10.5": 5}
    assert len(malformed) == 2  # the garbage and the truncated reply
    assert client.unmatched_replies == 3  # the stranger's, the wrong id, the wrong community


async def test_a_lost_request_is_sent_again_with_the_same_request_id() -> None:
    asked = []

    def answer(request: Request, _addr) -> list[bytes]:
        asked.append(request)
        return [] if len(asked) == 1 else [request.reply(numbered(request))]

    client = SnmpClient()
    async with played_agent(answer, timeout_s=0.5, retries=2) as (_agent, target):
        try:
            found = await client.get(target, ["1.3.6.1.4.1.55555.11.3"])
        finally:
            client.close()
    assert found == {"1.3.6.1.4.1.55555.11.3": 3}
    first, second = asked[:2]  # a third if the answer to the second was slow
    assert first.data == second.data  # the same message, request-id included


async def test_a_silent_agent_gets_retries_plus_one_requests_then_a_timeout() -> None:
    client = SnmpClient()
    silent = played_agent(lambda _request, _addr: [], timeout_s=0.1, retries=2)
    async with silent as (agent, target):
        try:
            with pytest.raises(SnmpError) as failed:
                await client.walk_columns(target, ["1.3.6.1.4.1.55555.12"])
        finally:
            client.close()
    assert failed.value.reason == "timeout"
    assert len(agent.requests) == 3 and len({r.request_id for r in agent.requests}) == 1


async def test_a_walk_that_goes_backwards_is_cut_off_with_its_rows() -> None:
    def answer(request: Request, _addr) -> list[bytes]:
        column = "1.3.6.1.4.1.55555.13.9"
        back = [(f"{column}.{n}", rfc1902.Integer32(n)) for n in (1, 2, 10, 3)]
        return [request.reply(back)]

    client = SnmpClient()
    async with played_agent(answer) as (_agent, target):
        try:
            with pytest.raises(TableCutOff) as cut:
                await client.walk_columns(target, ["1.3.6.1.4.1.55555.13.9"])
        finally:
            client.close()
    assert cut.value.rows == {"1.3.6.1.4.1.55555.13.9": {"1": 1, "2": 2, "10": 10}}
    assert cut.value.reason == (
        "walk of 1.3.6.1.4.1.55555.13.9 cut off: the device returned 1.3.6.1.4.1.55555.13.9.3 "
        "after 1.3.6.1.4.1.55555.13.9.10 (OIDs not increasing)"
    )
