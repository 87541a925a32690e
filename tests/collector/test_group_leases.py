"""Leases of a collector group on a real PostgreSQL: one holder at a time, take-over after
expiry with a new fencing token, and a write under the old token refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from roomwatch.collector.db import lease_store
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.errors import LeaseLostError
from roomwatch.collector.group.member import GroupMember
from roomwatch.collector.group.partitions import lease_name, partition_of
from tests.collector.conftest import postgres_database

LEASE_S = 0.6


@pytest.fixture
def pg() -> Iterator[Database]:
    with postgres_database() as url:
        db = open_database(url)
        yield db
        db.dispose()


def member(db: Database, served: set[int], name: str) -> GroupMember:
    return GroupMember(db, 4, LEASE_S, served.add, served.discard, member_id=name)


def test_members_share_the_partitions_and_a_survivor_takes_a_dead_ones(pg: Database) -> None:
    a_served: set[int] = set()
    b_served: set[int] = set()
    a, b = member(pg, a_served, "a"), member(pg, b_served, "b")
    a.join()
    b.join()
    a.cycle()  # two members alive: each takes its share of 2
    b.cycle()
    a.cycle()
    assert len(a_served) == 2 and len(b_served) == 2 and not a_served & b_served
    assert a.is_leader and not b.is_leader

    time.sleep(LEASE_S + 0.1)  # "a" is dead: neither heartbeat nor renewal
    b.cycle()
    assert b_served == {0, 1, 2, 3} and b.is_leader
    with pg.session() as session:
        assert set(lease_store.holders(session).values()) == {"b"}


def test_a_write_under_a_lease_taken_over_meanwhile_is_refused(pg: Database) -> None:
    a_served: set[int] = set()
    a = member(pg, a_served, "a")
    a.join()
    a.cycle()
    assert a_served == {0, 1, 2, 3}
    with pg.session(write=True) as session:
        a.fence(session, {0, 1})  # held: no error

    time.sleep(LEASE_S + 0.1)  # "a" paused past its lease; "b" takes partition 1
    with pg.session(write=True) as session:
        assert lease_store.acquire(session, lease_name(1), "b", LEASE_S) is not None
    with pytest.raises(LeaseLostError), pg.session(write=True) as session:
        a.fence(session, {0, 1})
    assert 1 not in a_served and 1 not in a.held()  # it stopped serving partition 1


def test_the_partition_of_an_agent_is_fixed_data_not_a_salted_hash() -> None:
    # Every member, on any machine and Python, must compute the same map (crc32 mod N).
    assert [partition_of(a, 16) for a in ("room-101", "room-102", "lab-7")] == [6, 12, 9]
