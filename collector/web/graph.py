"""The room graph: devices under the device they depend on (``parent`` in the inventory),
drawn as a tree, each node in its state. A device that is down while everything above it is
up is marked as the failed part; devices down behind it are marked as following it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from roomwatch.collector.db.queries import DeviceView

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 132, 46, 18, 36, 8


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    condition: str  # down, l1..l4, unknown, ok
    role: str  # "failed" (root cause), "behind" (down behind a failed parent), ""
    x: float
    y: float
    parent: str | None


def build(devices: Sequence[DeviceView], conditions: Mapping[str, str]) -> list[Node]:
    """Place every device (the agent itself excluded) in a top-down tree."""
    shown = [d for d in devices if d.kind != "agent"]
    ids = {d.id for d in shown}
    parent = {d.id: d.parent if d.parent in ids and d.parent != d.id else None for d in shown}
    children: dict[str | None, list[str]] = {}
    for d in sorted(shown, key=lambda d: (d.kind != "host", d.id)):
        children.setdefault(parent[d.id], []).append(d.id)
    kinds = {d.id: d.kind for d in shown}
    depth: dict[str, int] = {}
    order: list[str] = []

    def visit(start: str) -> None:
        # Iterative (the links come from agents: a chain of thousands must not hit the
        # recursion limit); a device already placed is skipped, so a loop cannot hang.
        todo = [(start, 0)]
        while todo:
            node, level = todo.pop()
            if node in depth:
                continue
            depth[node] = level
            order.append(node)
            todo.extend((child, level + 1) for child in reversed(children.get(node, [])))

    for root in children.get(None, []):
        visit(root)
    for d in shown:  # parents pointing in a circle: still draw them, as roots
        visit(d.id)
    roles = _roles(parent, conditions)
    rows: dict[int, list[str]] = {}
    for node in order:
        rows.setdefault(depth[node], []).append(node)
    width = max((len(r) for r in rows.values()), default=1)
    nodes = []
    for level, row in rows.items():
        offset = (width - len(row)) * (NODE_W + GAP_X) / 2
        for index, node in enumerate(row):
            nodes.append(
                Node(
                    id=node,
                    kind=kinds[node],
                    condition=conditions.get(node, "unknown"),
                    role=roles[node],
                    x=PAD + offset + index * (NODE_W + GAP_X),
                    y=PAD + level * (NODE_H + GAP_Y),
                    parent=parent[node],
                )
            )
    return nodes


def _roles(parent: Mapping[str, str | None], conditions: Mapping[str, str]) -> dict[str, str]:
    """Each device's role, in one linear pass: whether anything above it is down is
    remembered per device instead of walked again for every device below."""
    down_above: dict[str, bool] = {}
    for start in parent:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in down_above and node not in path:
            path.append(node)
            node = parent.get(node)
        if node is not None and node in path:  # a loop: each member sees the others
            loop = path[path.index(node) :]
            down = [n for n in loop if conditions.get(n) == "down"]
            for member in loop:
                down_above[member] = any(n != member for n in down)
            path = path[: path.index(node)]
        above = node is not None and (down_above[node] or conditions.get(node) == "down")
        for step in reversed(path):
            down_above[step] = above
            above = above or conditions.get(step) == "down"
    return {
        node: ("behind" if down_above[node] else "failed") if conditions.get(node) == "down" else ""
        for node in parent
    }


def svg(
    nodes: Sequence[Node],
    href: Callable[[str], str],
    kind_label: Callable[[str], str],
    role_label: Callable[[str], str],
) -> Markup:
    """The graph as inline SVG; each node links to its device page."""
    if not nodes:
        return Markup("")
    width = max(n.x for n in nodes) + NODE_W + PAD
    height = max(n.y for n in nodes) + NODE_H + PAD
    where = {n.id: n for n in nodes}
    parts = [
        f'<svg class="room-graph" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img">'
    ]
    for n in nodes:
        if n.parent in where:
            p = where[n.parent]
            x0, y0, x1, y1 = p.x + NODE_W / 2, p.y + NODE_H, n.x + NODE_W / 2, n.y
            mid = (y0 + y1) / 2
            parts.append(
                f'<path class="edge edge-{n.condition}" d="M{x0:.1f},{y0:.1f} C{x0:.1f},{mid:.1f}'
                f' {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}" fill="none"/>'
            )
    for n in nodes:
        note = role_label(n.role) if n.role else kind_label(n.kind)
        parts.append(
            f'<a href="{escape(href(n.id))}" class="node node-{n.condition}'
            f'{" node-" + n.role if n.role else ""}" data-device="{escape(n.id)}">'
            f"<title>{escape(n.id)} · {escape(kind_label(n.kind))}</title>"
            f'<rect x="{n.x:.1f}" y="{n.y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f'<text x="{n.x + NODE_W / 2:.1f}" y="{n.y + 19:.1f}" text-anchor="middle" '
            f'class="node-id">{escape(n.id)}</text>'
            f'<text x="{n.x + NODE_W / 2:.1f}" y="{n.y + 36:.1f}" text-anchor="middle" '
            f'class="node-kind">{escape(note)}</text></a>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
