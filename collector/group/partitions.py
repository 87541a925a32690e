"""Which partition an agent belongs to, and the broker account that serves a partition.

The partition of an agent is ``crc32(agent_id) mod partitions``: stable across processes,
machines and Python versions (``hash()`` is salted per process), so every member of a
group computes the same map without asking anyone.
"""

from __future__ import annotations

import zlib

LEADER_LEASE = "leader"


def partition_of(agent_id: str, partitions: int) -> int:
    return zlib.crc32(agent_id.encode()) % partitions


def lease_name(partition: int) -> str:
    return f"partition-{partition:03d}"


def partition_account(username: str, partition: int) -> str:
    """The broker account (and so the MQTT client id and session) of one partition.

    The shipped broker uses the account name as client id (``use_username_as_clientid``),
    so a session can only be resumed by logging in as its account: each partition has its
    own read-only collector account, and whichever member holds the partition's lease logs
    in as it and receives what the broker queued meanwhile."""
    return f"{username}-p{partition:03d}"
