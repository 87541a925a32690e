"""The room graph: which device depends on which, from the inventory's ``parent`` links.

The room's agent (the pseudo device ``agent``) is the root: nothing in the room is seen
without it. Below it hang the devices without a parent (the recording PC ``host``, the UPS,
a switch wired straight to the campus network); below each device hang those that name it
as ``parent`` (a PoE switch's cameras and encoder; everything plugged into a UPS,
transitively through the switch). A device whose parent is unknown hangs on the root.

Root cause: while a device has an active fault of a rule that ``suppresses_dependents``
(unreachable, agent offline), faults of the devices behind it are symptoms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

ROOT = "agent"
T = TypeVar("T")


@dataclass(frozen=True)
class RoomGraph:
    """Parent links of one room's devices (device id → parent id or None)."""

    parents: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_links(cls, links: Iterable[tuple[str, str | None]]) -> RoomGraph:
        return cls(dict(links))

    def parent(self, device: str) -> str | None:
        """The device this one depends on; the root for a device without a known parent."""
        if device == ROOT:
            return None
        parent = self.parents.get(device)
        if parent is None or parent == device or parent not in self.parents:
            return ROOT
        return parent

    def ancestors(self, device: str) -> list[str]:
        """Parent, grandparent, ... up to and including the root (loops are cut)."""
        chain: list[str] = []
        node = self.parent(device)
        while node is not None and node not in chain and node != device:
            chain.append(node)
            node = self.parent(node)
        return chain

    def descendants(self, device: str) -> set[str]:
        """Every device behind ``device`` (all of them behind the root)."""
        return {d for d in self.parents if d != device and device in self.ancestors(d)}

    def depth(self, device: str) -> int:
        return len(self.ancestors(device))

    def parents_first(self, items: Sequence[T], device_of: Callable[[T], str]) -> list[T]:
        """``items`` ordered so that a parent's comes before its children's (stable)."""
        return sorted(items, key=lambda item: self.depth(device_of(item)))

    def first_failed_ancestor(self, device: str, failed: Iterable[str]) -> str | None:
        """The nearest ancestor of ``device`` among ``failed`` devices, if any."""
        down = set(failed)
        return next((a for a in self.ancestors(device) if a in down), None)


__all__ = ["ROOT", "RoomGraph"]
