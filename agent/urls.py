"""URLs as the agent prints them: without the user and password they may carry.

Apart from ``agent.checks`` so that the configuration, which the checks import, can use it.
"""

from __future__ import annotations


def redact_url(url: str) -> str:
    """``url`` without its user and password, safe to print and log; never raises.

    Everything between ``://`` and the last ``@`` goes, not only what ``urlsplit`` takes
    for user info: a password with ``/``, ``?`` or ``#`` in it (``rtsp://admin:pa/ss@cam/s``)
    ends the host part early for ``urlsplit``, which then sees no user at all."""
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    return f"{scheme}://{rest.rpartition('@')[2]}"
