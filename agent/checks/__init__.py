"""Device checks that need no SNMP: ICMP echo, TCP connect, HTTP(S) status, RTSP DESCRIBE.

Many cameras ship with SNMP switched off; these checks still say whether the device is
there (``reachable``, ``rtt_ms``) and whether its stream is up (``stream_up``). Their
results are ordinary ``DeviceSample`` values, so the same rules, root cause and dashboards
read them whatever the source. ``DeviceChecker`` runs a device's checks each cycle;
``merge_samples`` joins them with the device's SNMP sample.
"""

from roomwatch.agent.checks.base import CheckResult, redact_url
from roomwatch.agent.checks.checker import DeviceChecker, merge_samples

__all__ = ["CheckResult", "DeviceChecker", "merge_samples", "redact_url"]
