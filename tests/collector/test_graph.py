"""The room graph from inventory parents: agent at the root, PoE switch over its cameras,
UPS over everything that hangs on it, transitively; loops and unknown parents are safe."""

from __future__ import annotations

from roomwatch.collector.graph import ROOT, RoomGraph

ROOM = RoomGraph.from_links(
    [
        ("host", None),
        ("ups-1", None),
        ("sw-1", "ups-1"),
        ("cam-1", "sw-1"),
        ("cam-2", "sw-1"),
        ("enc-1", "sw-1"),
        ("proj-1", "gone"),
    ]
)


def test_ancestors_run_from_the_parent_up_to_the_agent():
    assert ROOM.ancestors("cam-1") == ["sw-1", "ups-1", ROOT]
    assert ROOM.ancestors("host") == [ROOT]
    assert ROOM.ancestors(ROOT) == []


def test_a_device_whose_parent_is_unknown_hangs_on_the_agent():
    assert ROOM.ancestors("proj-1") == [ROOT]


def test_descendants_of_the_ups_are_everything_behind_it():
    assert ROOM.descendants("ups-1") == {"sw-1", "cam-1", "cam-2", "enc-1"}
    assert ROOM.descendants("sw-1") == {"cam-1", "cam-2", "enc-1"}
    assert ROOM.descendants(ROOT) == set(ROOM.parents)


def test_parents_come_first_and_the_nearest_failed_ancestor_is_found():
    order = ROOM.parents_first(["cam-1", "enc-1", "sw-1", "ups-1", ROOT], lambda d: d)
    assert order.index(ROOT) < order.index("ups-1") < order.index("sw-1") < order.index("cam-1")
    assert ROOM.first_failed_ancestor("cam-2", {"ups-1", "sw-1"}) == "sw-1"
    assert ROOM.first_failed_ancestor("cam-2", {"host"}) is None
    assert ROOM.first_failed_ancestor("host", {ROOT}) == ROOT


def test_a_loop_in_parent_links_ends():
    looped = RoomGraph.from_links([("a", "b"), ("b", "a")])
    assert looped.ancestors("a") == ["b"]


def test_a_chain_of_thousands_of_links_is_walked_in_linear_time():
    """An agent reporting 20,000 devices each hanging on the previous one: every walk is
    iterative (no recursion limit) and the whole ordering is linear (this took minutes when
    each depth walked the chain again)."""
    count = 20_000
    chain = RoomGraph.from_links([(f"d{i}", f"d{i - 1}" if i else None) for i in range(count)])
    devices = [f"d{i}" for i in reversed(range(count))]
    ordered = chain.parents_first(devices, lambda d: d)
    assert ordered[:2] == ["d0", "d1"] and ordered[-1] == f"d{count - 1}"
    assert chain.depth(f"d{count - 1}") == count
    assert chain.max_depth() == count
    assert len(chain.descendants("d0")) == count - 1
    assert chain.unrooted() == set()


def test_loops_are_found_and_their_depth_is_finite():
    looped = RoomGraph.from_links([("a", "b"), ("b", "a"), ("t", "a"), ("ok", None)])
    assert looped.unrooted() == {"a", "b", "t"}
    assert [looped.depth(d) for d in ("a", "b", "t", "ok")] == [1, 1, 2, 1]
    assert looped.ancestors("t") == ["a", "b"]
