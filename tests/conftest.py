"""Shared fixtures. Real components (mosquitto, VictoriaMetrics, snmpd) are started on free
ports by the fixture modules below; a missing binary fails the test, it never skips."""

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.tsdb",
    "tests.fixtures.snmp",
    "tests.fixtures.recordings",
    "tests.fixtures.rtsp",
]
