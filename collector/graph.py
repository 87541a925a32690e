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
    """Parent links of one room's devices (device id → parent id or None).

    The links come from agents' reports, so every walk here is iterative and linear in the
    number of devices: a chain of thousands of links or a loop neither recurses nor takes
    quadratic time. Ingest refuses rooms deeper than ``ingest.limits.max_graph_depth``; these
    walks stay safe for what was stored before that limit existed.
    """

    parents: Mapping[str, str | None] = field(default_factory=dict)
    _depths: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        seen = {device}
        node = self.parent(device)
        while node is not None and node not in seen:
            chain.append(node)
            seen.add(node)
            node = self.parent(node)
        return chain

    def descendants(self, device: str) -> set[str]:
        """Every device behind ``device`` (all of them behind the root)."""
        children: dict[str, list[str]] = {}
        for child in self.parents:
            above = self.parent(child)
            if above is not None:
                children.setdefault(above, []).append(child)
        found: set[str] = set()
        todo = list(children.get(device, []))
        while todo:
            node = todo.pop()
            if node != device and node not in found:
                found.add(node)
                todo.extend(children.get(node, []))
        return found

    def depth(self, device: str) -> int:
        """How many ancestors ``device`` has (``len(ancestors(device))``), remembered."""
        known = self._depths
        if device in known:
            return known[device]
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = device
        while node is not None and node not in known and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = self.parent(node)
        if node is None:
            base = -1  # walked past the root: the root has no ancestors
        elif node in known:
            base = known[node]
        else:  # a loop: each member's ancestors are the loop's other members
            loop = path[on_path[node] :]
            for member in loop:
                known[member] = len(loop) - 1
            path = path[: on_path[node]]
            base = len(loop) - 1
        for step in reversed(path):
            base += 1
            known[step] = base
        return known[device]

    def max_depth(self) -> int:
        """The longest chain of parent links below the root."""
        return max((self.depth(d) for d in self.parents), default=0)

    def unrooted(self) -> set[str]:
        """Devices on a loop of parent links or behind one: their chain never reaches the
        root."""
        return set(self.parents) - self.descendants(ROOT) - {ROOT}

    def parents_first(self, items: Sequence[T], device_of: Callable[[T], str]) -> list[T]:
        """``items`` ordered so that a parent's comes before its children's (stable)."""
        return sorted(items, key=lambda item: self.depth(device_of(item)))

    def first_failed_ancestor(self, device: str, failed: Iterable[str]) -> str | None:
        """The nearest ancestor of ``device`` among ``failed`` devices, if any."""
        down = set(failed)
        return next((a for a in self.ancestors(device) if a in down), None)


__all__ = ["ROOT", "RoomGraph"]
