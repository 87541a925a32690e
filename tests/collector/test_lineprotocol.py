"""The InfluxDB line protocol the collector writes (``collector.ingest.points``).

The escaping rules of the line protocol reference, checked on literal lines: in tag keys,
tag values and field keys a comma, an equals sign, a space and a backslash are escaped; in a
measurement a comma, a space and a backslash; a string field is double-quoted with its
double quotes and backslashes escaped. A newline cannot travel in a line: it is written as
the two characters ``\\n``. Fields are always floats, timestamps milliseconds. Then the
awkward values travel through a real VictoriaMetrics and come back as they should.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from roomwatch.agent.wire import DeviceSample, Event, EventsMessage, MetricsMessage, TableRow
from roomwatch.collector.config import TsdbConfig
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.ingest.points import (
    Placement,
    escape_key,
    escape_measurement,
    escape_string,
    event_lines,
    field_set,
    metrics_lines,
)
from roomwatch.collector.ingest.tsdb import TsdbWriter
from tests.collector.lineproto_support import parse_line

AT = datetime(2026, 3, 2, 8, 15, 30, 250_000, tzinfo=UTC)
AT_MS = 1772439330250
PLACE = Placement(site="north", room="a101")
# Values an agent may report in labels and models (LabelValue allows any text).
AWKWARD = {
    "space": "Recording Disk",
    "comma": "D:,E:",
    "equals": "a=b",
    "quote": 'the "big" one',
    "backslash": "C:\\Recordings",
    "trailing": "C:\\",
    "escaped_space": "a\\ b",
    "newline": "two\nlines",
}


def test_tag_keys_and_values_escape_comma_equals_space_and_backslash():
    assert escape_key("Recording Disk") == "Recording\\ Disk"
    assert escape_key("D:,E:") == "D:\\,E:"
    assert escape_key("a=b") == "a\\=b"
    assert escape_key('the "big" one') == 'the\\ "big"\\ one'  # quotes are plain in tags
    assert escape_key("C:\\Recordings") == "C:\\\\Recordings"
    assert escape_key("C:\\") == "C:\\\\"  # not an escaped space or comma after it
    assert escape_key("a\\ b") == "a\\\\\\ b"
    assert escape_key("two\nlines") == "two\\nlines"


def test_measurements_escape_comma_space_and_backslash_but_not_equals():
    assert escape_measurement("my table,x=1") == "my\\ table\\,x=1"
    assert escape_measurement("a\\b") == "a\\\\b"


def test_string_fields_are_quoted_and_escape_quotes_and_backslashes_only():
    assert escape_string('say "hi"') == '"say \\"hi\\""'
    assert escape_string("C:\\") == '"C:\\\\"'
    assert escape_string("a, b=c d") == '"a, b=c d"'
    assert escape_string("line one\nline two\r") == '"line one\\nline two\\r"'


def test_fields_are_floats_never_integers_and_non_finite_values_are_left_out():
    assert field_set([("n", 5), ("x", 0.25), ("big", 1e20), ("tiny", -1.5e-7)]) == (
        "n=5.0,x=0.25,big=1e+20,tiny=-1.5e-07"
    )
    assert field_set([("a", math.nan), ("b", math.inf), ("c", -math.inf), ("d", 1.0)]) == "d=1.0"
    assert field_set([("a", math.nan)]) == ""


def test_a_metrics_message_is_a_line_per_device_and_per_table_row():
    camera = DeviceSample(
        device="cam-1",
        kind="camera",
        model="PTZ 200",
        reachable=True,
        rtt_ms=3.5,
        metrics={"temperature_c": 41.0, "broken": math.nan},
    )
    host = DeviceSample(
        device="host",
        kind="host",
        reachable=False,
        tables={
            "disk": [
                TableRow(labels={"mount": "C:\\"}, metrics={"used_pct": 71.5}),
                TableRow(labels={"mount": "D:"}, metrics={"used_pct": math.inf}),
                TableRow(labels={"mount": "E:"}, metrics={}),
            ]
        },
    )
    message = MetricsMessage(agent="agent-1", seq=1, ts=AT, interval_s=30, devices=[camera, host])
    tags = "agent=agent-1,device=cam-1,kind=camera,model=PTZ\\ 200,room=a101,site=north"
    host_tags = "agent=agent-1,device=host,kind=host"
    assert metrics_lines(message, PLACE) == [
        f"camera,{tags} reachable=1.0,rtt_ms=3.5,temperature_c=41.0 {AT_MS}",
        f"host,{host_tags},room=a101,site=north reachable=0.0 {AT_MS}",
        f"host_disk,{host_tags},mount=C:\\\\,room=a101,site=north used_pct=71.5 {AT_MS}",
    ]


def test_events_are_a_count_and_their_text():
    events = EventsMessage(
        agent="agent-1",
        seq=2,
        ts=AT,
        events=[
            Event(device="sw-1", type="link_down", text='port 3 "uplink"\ndown', at=AT),
            Event(device="sw-1", type="cold_start", at=AT),
        ],
    )
    tags = "agent=agent-1,device=sw-1,room=a101,site=north"
    assert event_lines(events, PLACE) == [
        f'event,{tags},type=link_down count=1.0,text="port 3 \\"uplink\\"\\ndown" {AT_MS}',
        f'event,{tags},type=cold_start count=1.0,text="cold_start" {AT_MS}',
    ]


def test_written_lines_read_back_by_the_protocol_rules():
    rows = [
        TableRow(labels={"mount": value}, metrics={"used_pct": 50.0}) for value in AWKWARD.values()
    ]
    host = DeviceSample(device="host", kind="host", reachable=True, tables={"disk": rows})
    message = MetricsMessage(agent="agent-1", seq=1, ts=AT, interval_s=30, devices=[host])
    mounts = [parse_line(text).tags["mount"] for text in metrics_lines(message, PLACE)[1:]]
    assert mounts == [value.replace("\n", "\\n") for value in AWKWARD.values()]


def test_awkward_values_round_trip_through_victoriametrics(victoria: VictoriaMetrics):
    rows = [
        TableRow(labels={"mount": value, "case": case}, metrics={"used_pct": float(n)})
        for n, (case, value) in enumerate(AWKWARD.items())
    ]
    host = DeviceSample(
        device="host",
        kind="host",
        model='Station "X", rev=2 \\ A',
        reachable=True,
        metrics={"cpu_pct": 12.5},
        tables={"disk": rows},
    )
    message = MetricsMessage(agent="agent-rt", seq=1, ts=AT, interval_s=30, devices=[host])
    events = EventsMessage(
        agent="agent-rt",
        seq=2,
        ts=AT,
        events=[
            Event(device="host", type="note", text='say "hi", a=b \\ end\nnext line', at=AT),
            Event(device="host", type="after", text="plain", at=AT),
        ],
    )
    writer = TsdbWriter(TsdbConfig(url=victoria.url))
    try:
        writer.write([*metrics_lines(message, PLACE), *event_lines(events, PLACE)])
    finally:
        writer.close()

    disks = {
        s["metric"]["case"]: (s["metric"]["mount"], s["values"], s["timestamps"])
        for s in victoria.export('host_disk_used_pct{agent="agent-rt"}')
    }
    assert disks == {
        case: (value.replace("\n", "\\n"), [float(n)], [AT_MS])
        for n, (case, value) in enumerate(AWKWARD.items())
    }
    [cpu] = victoria.export('host_cpu_pct{agent="agent-rt"}')
    assert (cpu["metric"]["model"], cpu["values"]) == ('Station "X", rev=2 \\ A', [12.5])
    # The quoted text with a quote, comma, equals sign, backslash and newline did not break
    # its line or the next one (VictoriaMetrics keeps numbers only, so the count proves it).
    counts = {
        s["metric"]["type"]: s["values"] for s in victoria.export('event_count{agent="agent-rt"}')
    }
    assert counts == {"note": [1.0], "after": [1.0]}
