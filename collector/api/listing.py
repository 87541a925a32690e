"""What the dashboard's read routes share: ETags, 304 answers, a per-process cache of
serialised answers, gzip of cached bodies, the room list's filters and page headers.

An answer's ETag is a digest of what it depends on: the route and its query, the caller's
sites (a bound user never gets another scope's tag, nor its cached body), and the change
counters of the rooms it covers (``collector.db.room_versions``), which every write to those
rooms moves in its own transaction. The cache is keyed on the ETag itself, so an entry is
found only while nothing it shows has changed, in this process or any other member of the
collector group; old entries simply fall out of the LRU.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request, Response

from roomwatch import agent
from roomwatch.collector.db.queries import RoomSummary
from roomwatch.collector.db.scope import SiteScope

# Bounded by bytes, not entries: a 1,000-room list is ~400 KB, one room's page ~6 KB, and
# the pages of every room of a large site must fit beside the lists without evicting them.
CACHE_BYTES = 48 * 1024 * 1024
GZIP_MIN_BYTES = 1024  # the GZip middleware's threshold too: below it, gzip costs more
GZIP_LEVEL = 6  # zlib's default: level 9 costs twice the CPU for ~3 % smaller bodies
CACHE_CONTROL = "private, no-cache"  # a browser may keep it but must revalidate (ETag)

RoomStatus = Literal["ok", "faulty", "offline", "online"]

# OpenAPI: what a cached list or room answers beside its body and the error statuses.
_ETAG_HEADER = {
    "description": "Version of this answer for this caller; send it back in "
    "If-None-Match to get 304 while nothing changed",
    "schema": {"type": "string"},
}
_TOTAL_HEADER = {
    "description": "Items matching the filters, over every page",
    "schema": {"type": "integer"},
}
_LINK_HEADER = {
    "description": 'The next page: <url>; rel="next" (absent on the last page)',
    "schema": {"type": "string"},
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the If-None-Match ETag is current"}
}
OK_HEADERS = {"ETag": _ETAG_HEADER}
PAGE_HEADERS = {"ETag": _ETAG_HEADER, "X-Total-Count": _TOTAL_HEADER, "Link": _LINK_HEADER}


@dataclass
class CachedAnswer:
    """A serialised 200 answer, with its gzip made on first demand."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    gzipped: bytes | None = None

    def gzip_body(self) -> bytes:
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self.gzipped


def _size(answer: CachedAnswer) -> int:
    return len(answer.body) * 5 // 4  # and room for its gzip, made later on demand


class AnswerCache:
    """Least recently used answers by ETag, at most ``max_bytes`` of bodies; shared by the
    threads serving requests."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tag: str) -> CachedAnswer | None:
        with self._lock:
            answer = self._answers.get(tag)
            if answer is not None:
                self._answers.move_to_end(tag)
            return answer

    def put(self, tag: str, answer: CachedAnswer) -> None:
        if _size(answer) > self._max_bytes:
            return
        with self._lock:
            replaced = self._answers.pop(tag, None)
            if replaced is not None:
                self._bytes -= _size(replaced)
            self._answers[tag] = answer
            self._bytes += _size(answer)
            while self._bytes > self._max_bytes:
                _, evicted = self._answers.popitem(last=False)
                self._bytes -= _size(evicted)


def etag(request: Request, version: object, sites: SiteScope, extra: str = "") -> str:
    """A weak ETag (the same JSON may travel gzipped or not) for this route and query, the
    caller's sites and the version of what the answer shows."""
    scope = "*" if sites is None else ",".join(sorted(sites))
    key = "|".join(
        (agent.__version__, request.url.path, request.url.query, scope, repr(version), extra)
    )
    return 'W/"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> Iterable[str]:
    for part in header.split(","):
        tag = part.strip()
        if tag:
            yield tag if tag.startswith("W/") or tag == "*" else "W/" + tag


def not_modified(request: Request, tag: str) -> Response | None:
    """The 304 answer when the client's If-None-Match holds ``tag`` (weak comparison)."""
    header = request.headers.get("if-none-match")
    if header is None or not any(t in (tag, "*") for t in _tags(header)):
        return None
    return Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE_CONTROL})


def cached_answer(
    request: Request,
    cache: AnswerCache,
    tag: str,
    build: Callable[[], CachedAnswer],
) -> Response:
    """304 when the client holds ``tag``; else the cached body for ``tag``, built once."""
    unchanged = not_modified(request, tag)
    if unchanged is not None:
        return unchanged
    answer = cache.get(tag)
    if answer is None:
        answer = build()
        cache.put(tag, answer)
    headers = {**answer.headers, "ETag": tag, "Cache-Control": CACHE_CONTROL}
    headers["Vary"] = "Accept-Encoding"
    body = answer.body
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = answer.gzip_body()  # made once per answer; the middleware leaves it alone
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


@dataclass(frozen=True)
class RoomFilter:
    """The room list's filters; None means any."""

    level: int | None = None  # worst open fault at this level or more urgent (1 = L1)
    status: RoomStatus | None = None
    search: str | None = None  # in id, name, building or site name, any case

    def keeps(self, room: RoomSummary) -> bool:
        worst = room.worst_open_level
        if self.level is not None and (worst is None or worst > self.level):
            return False
        if self.status is not None and not _has_status(room, self.status):
            return False
        if self.search:
            needle = self.search.casefold()
            haystack = (room.id, room.name, room.building or "", room.site_name)
            return any(needle in text.casefold() for text in haystack)
        return True


def _has_status(room: RoomSummary, status: RoomStatus) -> bool:
    if status == "faulty":
        return room.open_fault_count > 0
    if status == "ok":
        return room.open_fault_count == 0
    online = [a.online for a in room.agents]
    if status == "offline":
        return not all(online) if online else False
    return bool(online) and all(online)


def page_headers(request: Request, total: int, offset: int, shown: int) -> dict[str, str]:
    """X-Total-Count, and a Link to the next page when there is one."""
    headers = {"X-Total-Count": str(total)}
    if offset + shown < total and shown > 0:
        following = request.url.include_query_params(offset=offset + shown)
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return headers


def page_of(items: Sequence[Any], offset: int, limit: int | None) -> Sequence[Any]:
    return items[offset : None if limit is None else offset + limit]


__all__ = [
    "CACHE_CONTROL",
    "GZIP_LEVEL",
    "GZIP_MIN_BYTES",
    "NOT_MODIFIED",
    "OK_HEADERS",
    "PAGE_HEADERS",
    "AnswerCache",
    "CachedAnswer",
    "RoomFilter",
    "RoomStatus",
    "cached_answer",
    "etag",
    "not_modified",
    "page_headers",
    "page_of",
]
