"""Maintenance windows: when faults are not opened in a site, a room or a device.

A window is one-off (``once``: start and end instants), weekly (``weekly``: weekdays and a
local time range, optionally only between two dates) or a range of whole days (``dates``: a
term holiday). Local times are the site's time zone (the inventory's ``timezone``, else the
collector's). A device window also covers the devices behind that device in the room graph.

Inside a window the fault tracker records what fired (a ``maintenance`` suppressed firing)
instead of opening a fault, and no notification leaves; samples are stored as always.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.workflow_models import MaintenanceWindow
from roomwatch.collector.graph import RoomGraph

HhMm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class WindowSpec(BaseModel):
    """What a maintenance window says; validated before it is stored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    reason: str = ""
    kind: Literal["once", "weekly", "dates"]
    site_id: str | None = None
    room_id: str | None = None
    device: str | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=list, description="0 = Monday ... 6 = Sunday."
    )
    start_time: HhMm | None = None
    end_time: HhMm | None = None
    date_from: date | None = None
    date_to: date | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> WindowSpec:
        if not (self.site_id or self.room_id):
            raise ValueError("give a scope: site_id, room_id, or room_id with device")
        if self.device and not self.room_id:
            raise ValueError("a device window needs the device's room_id")
        if self.kind == "once":
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a 'once' window needs starts_at and ends_at")
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
        elif self.kind == "weekly":
            if not self.weekdays or self.start_time is None or self.end_time is None:
                raise ValueError("a 'weekly' window needs weekdays, start_time and end_time")
            if self.start_time == self.end_time:
                raise ValueError("start_time and end_time must differ")
        elif self.date_from is None or self.date_to is None:
            raise ValueError("a 'dates' window needs date_from and date_to")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("date_to must not be before date_from")
        return self


def is_active(window: MaintenanceWindow, at: datetime, tz: ZoneInfo) -> bool:
    """Whether ``window`` covers the instant ``at`` (local times in ``tz``)."""
    if not window.enabled:
        return False
    if window.kind == "once":
        return (
            window.starts_at is not None
            and window.ends_at is not None
            and window.starts_at <= at < window.ends_at
        )
    local = at.astimezone(tz)
    if window.kind == "dates":
        return _within_dates(window, local.date())
    return _weekly_active(window, local)


def _within_dates(window: MaintenanceWindow, day: date) -> bool:
    if window.date_from is not None and day < window.date_from:
        return False
    return not (window.date_to is not None and day > window.date_to)


def _weekly_active(window: MaintenanceWindow, local: datetime) -> bool:
    if window.start_time is None or window.end_time is None:
        return False
    start, end = _hhmm(window.start_time), _hhmm(window.end_time)
    now, weekday, days = local.time(), local.weekday(), set(window.weekdays or [])
    if start < end:
        return weekday in days and start <= now < end and _within_dates(window, local.date())
    # Past midnight: the evening part belongs to its own day, the morning part to the day before.
    if weekday in days and now >= start:
        return _within_dates(window, local.date())
    previous = local.date().toordinal() - 1
    return (
        (weekday - 1) % 7 in days
        and now < end
        and _within_dates(window, date.fromordinal(previous))
    )


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def zone(name: str | None, default: str) -> ZoneInfo:
    """The site's zone, the default for a site without one or with an unknown name."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def covers(window: MaintenanceWindow, site_id: str | None, room_id: str, device: str,
           graph: RoomGraph | None) -> bool:  # fmt: skip
    """Whether ``window``'s scope includes ``device`` of ``room_id``."""
    if window.device is not None:
        if window.room_id != room_id:
            return False
        if window.device == device:
            return True
        return graph is not None and window.device in graph.ancestors(device)
    if window.room_id is not None:
        return window.room_id == room_id
    return window.site_id is not None and window.site_id == site_id


@dataclass(frozen=True)
class MaintenanceCalendar:
    """Finds the window covering a device at an instant; ``default_timezone`` is the
    collector's zone for sites without their own."""

    default_timezone: str = "Asia/Shanghai"

    def active_window(
        self,
        session: Session,
        room_id: str,
        device: str,
        at: datetime,
        graph: RoomGraph | None = None,
    ) -> MaintenanceWindow | None:
        site_id, site_tz = workflow_store.room_site(session, room_id)
        candidates: Sequence[MaintenanceWindow] = workflow_store.windows_for(
            session, site_id, room_id
        )
        tz = zone(site_tz, self.default_timezone)
        for window in candidates:
            if covers(window, site_id, room_id, device, graph) and is_active(window, at, tz):
                return window
        return None

    def room_in_window(self, session: Session, room_id: str, at: datetime) -> bool:
        """Whether a window covering the whole room is active (notifications muted)."""
        return self.active_window(session, room_id, "", at) is not None


__all__ = ["MaintenanceCalendar", "WindowSpec", "covers", "is_active", "zone"]
