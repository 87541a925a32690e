"""The demo's schedule of incidents: each breaks something real and later repairs it.

One incident is one fault, and the grid returns to green: every incident lasts long enough
to pass its rule's guard (two polls for L1/L2, the UPS long enough for its minutes to fall
below the L1 rung), is repaired, and the cycle ends with a quiet gap longer than the
flapping hold. Each cycle moves the incidents one room on, so a room meets the same incident
again only after several cycles (with one room: a cycle later, after the reopen window), and
no repair is followed by the same failure within the flapping window. One camera flaps on
purpose: unplugged for four polls, plugged for two, three times — one fault marked flapping,
resolved once it stayed up for the hold time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roomwatch.collector.demo.rooms import SimRoom

# In polls from the start of a cycle: (break at, repair at). The first three polls give the
# agents their baselines; the agent is killed after the flapping camera settled, so its
# Last Will does not hide the flapping.
FIRST_POLL = 3
CAMERA = (FIRST_POLL, FIRST_POLL + 7)
STORAGE = (FIRST_POLL + 1, FIRST_POLL + 8)  # three world steps up to 96 %, two polls of guard
UPS = (FIRST_POLL + 2, FIRST_POLL + 14)  # 42 min falling 4 a step: ≤ 10 min after 8 steps
RECORDER = (FIRST_POLL + 3, FIRST_POLL + 10)
FLAP_START = FIRST_POLL + 1
FLAPS = 3  # down for FLAP_DOWN_POLLS, then up for FLAP_UP_POLLS, this many times
# A poll of an unplugged device waits for its SNMP timeout and the agent's cycle stretches
# while it does: four polls down give the guard its two firing polls even at 1 s polls.
FLAP_DOWN_POLLS = 4
FLAP_UP_POLLS = 2
FLAP_END = FLAP_START + FLAPS * (FLAP_DOWN_POLLS + FLAP_UP_POLLS)
AGENT = (FLAP_END + 2, FLAP_END + 5)
LAST_REPAIR = AGENT[1]
SETTLE_POLLS = 6  # after the flapping hold: the agent's restart and the last resolutions

# The demo's flapping policy in polls (the pack's default is minutes, for 30-60 s polls):
# a repair followed by the same failure within REOPEN_POLLS reopens its fault, which is
# held HOLD_POLLS after the last firing once it is flapping.
REOPEN_POLLS = 10
HOLD_POLLS = 10
WINDOW_POLLS = 30


@dataclass(frozen=True)
class Incident:
    at_s: float
    text: str
    action: Callable[[], None]


def flap_policy(interval_s: float) -> dict[str, float]:
    """The ``flapping`` policy the demo's rules file gives every rule."""
    return {
        "reopen_s": REOPEN_POLLS * interval_s,
        "transitions": 4,
        "window_s": WINDOW_POLLS * interval_s,
        "hold_s": HOLD_POLLS * interval_s,
    }


def cycle_s(interval_s: float) -> float:
    """How long one cycle lasts: the last repair, the flapping hold, then a settle time."""
    return (LAST_REPAIR + HOLD_POLLS + SETTLE_POLLS) * interval_s


def schedule(
    rooms: list[SimRoom], interval_s: float, offset_s: float = 0.0, cycle: int = 0
) -> list[Incident]:
    """One cycle of incidents starting at ``offset_s``; ``cycle`` moves them a room on."""
    pick = lambda slot: rooms[(slot + cycle) % len(rooms)]  # noqa: E731 - fewer rooms is fine
    p = interval_s
    plan: list[tuple[tuple[int, int], str, Callable[[], None], Callable[[], None]]] = []

    cam = pick(0)
    plan.append((CAMERA, f"{cam.room_id}: cam-2 unplugged", *_plug(cam, "cam-2")))
    disk = pick(1)
    plan.append(
        (
            STORAGE,
            f"{disk.room_id}: enc-1 recording storage filling to 96 %",
            _set(disk, storage_pct=96.0),
            _set(disk, storage_pct=41.0),
        )
    )
    ups = pick(2)
    plan.append(
        (
            UPS,
            f"{ups.room_id}: mains lost, UPS on battery",
            _set(ups, on_battery=True),
            _set(ups, on_battery=False),
        )
    )
    rec = pick(4)
    plan.append(
        (
            RECORDER,
            f"{rec.room_id}: recording software crashed",
            rec.stop_recorder,
            rec.start_recorder,
        )
    )
    agent = pick(3)
    plan.append(
        (AGENT, f"{agent.room_id}: agent killed (SIGKILL)", agent.kill_agent, agent.restart_agent)
    )

    incidents: list[Incident] = []
    for (start, end), text, breaks, repairs in plan:
        incidents.append(Incident(offset_s + start * p, text, breaks))
        incidents.append(Incident(offset_s + end * p, f"{text} — repaired", repairs))
    flapper = pick(5)
    unplug, plug = _plug(flapper, "cam-1")
    for flap in range(FLAPS):
        down = FLAP_START + (FLAP_DOWN_POLLS + FLAP_UP_POLLS) * flap
        label = f"{flapper.room_id}: cam-1 link flapping ({flap + 1}/{FLAPS})"
        incidents.append(Incident(offset_s + down * p, f"{label}: down", unplug))
        incidents.append(Incident(offset_s + (down + FLAP_DOWN_POLLS) * p, f"{label}: up", plug))
    incidents.append(Incident(offset_s + cycle_s(p), "cycle complete", lambda: None))
    return sorted(incidents, key=lambda i: i.at_s)


def describe(rooms: list[SimRoom], interval_s: float, cycle: int = 0) -> list[str]:
    """The cycle's incidents as lines to print before it starts: when each breaks."""
    first_flap = f" (1/{FLAPS}): down"
    lines: list[str] = []
    for incident in schedule(rooms, interval_s, cycle=cycle):
        text = incident.text
        if text.endswith(first_flap):
            text = text.replace(
                first_flap, f": down {FLAP_DOWN_POLLS} polls, up {FLAP_UP_POLLS}, {FLAPS} times"
            )
        elif "flapping (" in text or text.endswith(("repaired", ": up", "complete")):
            continue
        lines.append(f"+{incident.at_s:3.0f} s  {text}")
    return lines


def _plug(room: SimRoom, device_id: str) -> tuple[Callable[[], None], Callable[[], None]]:
    device = room.devices[device_id]
    return device.unplug, device.plug


def _set(room: SimRoom, **values: Any) -> Callable[[], None]:
    return lambda: room.world_state.update(values)
