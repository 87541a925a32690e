"""Poison messages: telling an outage from a message that cannot be stored, and what is
kept of a message that is quarantined.

Only an outage is worth retrying: the TSDB or the database unreachable, timing out,
answering 5xx, locked or refusing credentials. Anything else a batch raises comes from what
is in it (a 400 from the TSDB, a constraint or overflow in SQL): writing it again fails
again and would hold every message behind it, so the pipeline splits the batch to find the
culprit, stores the others, and quarantines the culprit (acknowledged, kept with its
reason in ``quarantined_messages``, counted).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exc as sql_errors

from roomwatch.agent.wire import WireError, parse_topic
from roomwatch.collector.db.quarantine_store import Quarantined
from roomwatch.collector.errors import LeaseLostError, TsdbRejectedError, TsdbWriteError

_SQL_OUTAGES = (
    sql_errors.OperationalError,  # connection lost, database locked, serialization failure
    sql_errors.InterfaceError,
    sql_errors.DisconnectionError,
    sql_errors.TimeoutError,  # no pooled connection in time
)


def is_outage(error: BaseException) -> bool:
    """True when storing may work if tried again later (nothing is wrong with the data)."""
    if isinstance(error, TsdbRejectedError):
        return False
    # A lost lease: the next attempt leaves out the partitions taken over.
    return isinstance(error, (TsdbWriteError, LeaseLostError, OSError, TimeoutError, *_SQL_OUTAGES))


def stage_of(error: BaseException) -> str:
    """Where a content error came from, as the quarantine records it."""
    if isinstance(error, TsdbWriteError):
        return "tsdb"
    if isinstance(error, sql_errors.SQLAlchemyError):
        return "sql"
    return "store"


def describe(error: BaseException) -> str:
    """One line naming the error, without the SQL statement and its parameters."""
    if isinstance(error, sql_errors.StatementError) and error.orig is not None:
        error = error.orig
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:500]


def entry(
    topic: str,
    payload: bytes,
    stage: str,
    reason: str,
    at: datetime,
    excerpt_bytes: int,
    seq: int | None = None,
) -> Quarantined:
    """The quarantine row of one message."""
    try:
        agent: str | None = parse_topic(topic)[0]
    except WireError:
        agent = None
    # PostgreSQL text cannot hold NUL; the excerpt is for reading, not for replaying.
    text = payload[:excerpt_bytes].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return Quarantined(at, topic, agent, seq, stage, reason, len(payload), text)
