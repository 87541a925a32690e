"""Writes docs/protocol.md from the wire contract.

Run ``python -m roomwatch.agent.protocol_doc docs/protocol.md`` after changing ``agent/wire.py``.

A test fails when the committed document differs from what this renders, so the document
cannot go stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from roomwatch.agent import wire

_INTRO = """# roomwatch wire protocol (v{version})

Generated from `agent/wire.py` by `python -m roomwatch.agent.protocol_doc docs/protocol.md`; a test
fails when this file is stale. Do not edit by hand: edit the module and regenerate.

## Transport
- MQTT v5, QoS 1 for every kind. The MQTT **username is the agent id**; the broker's ACL line
  `{acl}` stops an agent from publishing under another id. The collector reads with
  `{read}`.
- Topics: `{prefix}/<agent_id>/<kind>` where kind is one of {kinds}.
- `status` and `inventory` are **retained**. An agent connects with a retained Last Will
  `{{"type": "status", "state": "offline", ...}}` and publishes `online` once connected.
- Collectors subscribe to `{prefix}/+/<kind>` with a persistent session (clean start off,
  session expiry set) and acknowledge a message only after it is stored. A collector group
  partitions the agents (crc32 of the id mod N) and subscribes each partition's session to
  `{prefix}/<agent_id>/+` for each of its agents (docs/scaling.md).

## Every message
| field | meaning |
|---|---|
| `v` | protocol version, `{version}` |
| `agent` | agent id; must equal the topic's agent id |
| `seq` | grows for every message of the agent, across restarts; never reused |
| `ts` | sample time, RFC 3339 with offset |
| `type` | `metrics`, `events`, `status`, `inventory` (equals the topic's kind) |

Delivery is at least once end to end; the collector stores each `(agent, seq)` once and
ignores re-deliveries. The room of an agent comes from the collector's inventory, never from
a payload (`site_hint` / `room_hint` are informative).

Payloads are parsed **strictly**: a value of the wrong JSON type is an error, never
converted (`"7"` is not a number, `"yes"` and `1` are not booleans), unknown fields are
errors, and `seq` must fit a signed 64-bit integer. Beyond the schema the collector bounds
what one agent may send (message size, devices and metrics per message, devices per agent,
label lengths, how far `ts` may lie in the future or the past); a message past a bound is
acknowledged, counted and quarantined, never stored in part. The bounds and their defaults
are in `docs/operations.md` ("Threat model and limits").

## What the collector writes to the TSDB
Measurement = device kind (`camera`, `ups`, `host`, `agent`, ...); a device table becomes
`<kind>_<table>` (`host_disk`, `switch_interface`) with the row's labels as extra tags.
Tags: `site`, `room`, `agent`, `device`, `kind`, `model` (when known). Fields: the sample's
metrics plus `reachable` (0/1) and `rtt_ms`. VictoriaMetrics names each series
`<measurement>_<field>` (e.g. `camera_temperature_c`). Events go to measurement `event`
(tags `type`, `device`; fields `count`, `text`).

Counters are turned into per-second rates by the agent (fields ending in `_per_s`).

## JSON Schema
```json
{schema}
```
"""


def render() -> str:
    return _INTRO.format(
        version=wire.PROTOCOL_VERSION,
        acl=wire.AGENT_ACL_PATTERN,
        read=wire.COLLECTOR_ACL_READ,
        prefix=wire.TOPIC_PREFIX,
        kinds=", ".join(f"`{k.value}`" for k in wire.Kind),
        schema=json.dumps(wire.json_schema(), indent=2, ensure_ascii=False),
    )


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path("docs/protocol.md")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
