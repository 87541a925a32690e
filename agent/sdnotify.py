"""systemd's service notification protocol (``sd_notify``), without libsystemd.

Under ``Type=notify`` systemd sets ``NOTIFY_SOCKET`` (a unix datagram socket; a leading
``@`` means the abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``. A service
sends ``READY=1`` once it works, ``WATCHDOG=1`` at least every half watchdog period while it
is healthy, ``STATUS=...`` for ``systemctl status`` and ``STOPPING=1`` on the way out.

Everything here is a no-op where there is no such socket (a terminal, Windows, a test):
notifying must never stop the service it reports on.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to the socket named by ``NOTIFY_SOCKET`` when there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval_s(env)
        """Half the watchdog period (how often to send WATCHDOG=1), or None without one."""
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def notify(self, state: str) -> bool:
        """Send ``state`` (newline-separated assignments); False when not sent."""
        if self._address is None or not hasattr(socket, "AF_UNIX"):
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(state.encode())
        except OSError as exc:
            if not self._warned:  # once: a missing socket will stay missing
                log.warning("cannot notify the service manager: %s", exc.strerror or exc)
                self._warned = True
            return False
        return True


def _socket_address(value: str) -> str | None:
    if not value or value[0] not in "/@":
        return None
    return "\0" + value[1:] if value.startswith("@") else value


def _watchdog_interval_s(env: Mapping[str, str]) -> float | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None  # the watchdog is meant for another process of the unit
    return usec / 2_000_000
