"""Start a real mosquitto on a free port of 127.0.0.1, for tests, the demo and benchmarks.

The broker runs with the shipped settings of ``deploy/mosquitto/`` (read from there by
``collector.demo.shipped_broker``): no anonymous clients, a password file, client ids bound
to account names (``use_username_as_clientid``: whatever client id a client sends, its
account name is used), and the shipped ACL, which lets an agent write only under its own id
while collector accounts read everything and write nothing. Only paths, ports, sizes and
logging are the broker's own; ``tls=BrokerTls(...)`` adds a TLS listener on ``tls_port``.
So every account connects at most once at a time: two clients of one account take the
connection from each other, as in production.
Persistence lives in the broker's work folder, saved every ``autosave_interval_s`` as in
``deploy/mosquitto/mosquitto.conf``, so ``restart()`` (SIGTERM: mosquitto saves everything)
keeps sessions and queued messages as a production restart would, and ``kill()`` loses what
arrived since the last save, as a crash would.

    with MosquittoBroker() as broker:
        broker.add_user("room-101", "s3cret")
        broker.add_user("collector", "pw", collector=True)
        ...  # connect to broker.host, broker.port

Passwords are written as mosquitto's own PBKDF2 hashes, so no secret appears on a command
line. A broker is stopped when it is closed, when the interpreter exits and (on Linux) when
the thread that started it dies, so no test leaves a mosquitto behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from roomwatch.collector.demo.procs import (
    MissingComponentError,
    free_port,
    require_binary,
    tcp_open,
)
from roomwatch.collector.demo.shipped_broker import ShippedBroker, load_shipped
from roomwatch.collector.mqttauth import password_hash

__all__ = [
    "BrokerError",
    "BrokerTls",
    "MissingComponentError",
    "MosquittoBroker",
    "acl_text",
    "password_hash",
]

MOSQUITTO_PACKAGE = "mosquitto"
AUTOSAVE_INTERVAL_S = 5  # as deploy/mosquitto/mosquitto.conf: a crash loses at most this much
RUNNING_LINE = " running\n"  # "mosquitto version X running": started, signal handlers set
_LIVE: weakref.WeakSet[MosquittoBroker] = weakref.WeakSet()


class BrokerError(RuntimeError):
    """mosquitto failed to start or to reload its config."""


@dataclass(frozen=True)
class BrokerTls:
    """Certificate files for a TLS listener (PEM). ``cafile`` verifies client certificates
    when ``require_certificate`` is set (mutual TLS); passwords are checked either way."""

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False


def acl_text(collector_users: Iterable[str]) -> str:
    """The shipped broker ACL with a block for each collector account: agents write under
    their own id only; collectors read everything and write nothing."""
    return load_shipped().acl_text(set(collector_users))


class MosquittoBroker:
    """One mosquitto process with its own config, users, ACL, persistence and log."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int | None = None,
        tls: BrokerTls | None = None,
        autosave_interval_s: int = AUTOSAVE_INTERVAL_S,
    ) -> None:
        """Prepare (not start) a broker in ``workdir`` (a temporary folder when None).

        Raises MissingComponentError naming the Debian package when mosquitto is missing.
        """
        self._binary = require_binary("mosquitto", MOSQUITTO_PACKAGE)
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="roomwatch-mosquitto-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.tls = tls
        self.tls_port = free_port() if tls is not None else None
        self.autosave_interval_s = autosave_interval_s
        self.shipped: ShippedBroker = load_shipped()
        self._passwords: dict[str, str] = {}
        self._collectors: set[str] = set()
        self._process: subprocess.Popen[bytes] | None = None
        self._write_files()

    @property
    def config_file(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_file(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def passwd_file(self) -> Path:
        return self.workdir / "passwd"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def add_user(self, username: str, password: str, *, collector: bool = False) -> None:
        """Create or update a user; ``collector=True`` also grants read of every topic.

        A running broker reloads its password file and ACL (SIGHUP) before this returns.
        """
        self._passwords[username] = password_hash(password)
        if collector:
            self._collectors.add(username)
        self._write_files()
        if self.running:
            self._reload()

    def remove_user(self, username: str) -> None:
        """Delete a user (a running broker reloads); its open connection is not cut."""
        self._passwords.pop(username, None)
        self._collectors.discard(username)
        self._write_files()
        if self.running:
            self._reload()

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads its password file and ACL (e.g. after a file was edited
        by ``roomwatch broker add-agent``); clients whose password changed are dropped."""
        self._reload()

    def start(self, timeout_s: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts connections."""
        if self.running:
            return
        for _attempt in range(3):
            started_before = self._log_count(RUNNING_LINE)
            self._spawn()
            if self._wait_ready(timeout_s, started_before):
                return
            if self._fixed_port or "Address already in use" not in self.log_tail():
                break
            self.port = free_port()  # lost a race for the port: pick another
            self.tls_port = free_port() if self.tls is not None else None
            self._write_files()
        self._reap()
        raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop mosquitto cleanly (it saves its persistence file); kill it if it hangs."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()

    def kill(self) -> None:
        """Kill mosquitto without letting it save anything (a crash or power cut)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._reap()

    def restart(self, timeout_s: float = 10.0) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop(timeout_s)
        self.start(timeout_s)

    def close(self) -> None:
        """Stop the broker and remove the work folder if this object made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write_files(self) -> None:
        self.data_dir.mkdir(exist_ok=True)
        passwd = self.workdir / "passwd"
        passwd.write_text("".join(f"{u}:{h}\n" for u, h in sorted(self._passwords.items())))
        passwd.chmod(0o600)
        (self.workdir / "acl").write_text(self.shipped.acl_text(self._collectors))
        self.config_file.write_text(self._config_text())

    def _config_text(self) -> str:
        # The shipped settings first, then this broker's files; then its listeners, each
        # with the settings every shipped listener carries.
        lines = [
            *self.shipped.settings,
            f"password_file {self.workdir / 'passwd'}",
            f"acl_file {self.workdir / 'acl'}",
            f"persistence_location {self.data_dir}/",
            f"autosave_interval {self.autosave_interval_s}",
            "max_queued_messages 100000",
            f"log_dest file {self.log_file}",
            "log_type notice",  # the "running" and "Reloading config" lines waited for
            "log_type information",
            f"listener {self.port} {self.host}",
            *self.shipped.listener_settings,
        ]
        if self.tls is not None:
            lines += [
                f"listener {self.tls_port} {self.host}",
                *self.shipped.listener_settings,
                f"certfile {self.tls.certfile}",
                f"keyfile {self.tls.keyfile}",
                "tls_version tlsv1.2",
            ]
            if self.tls.cafile is not None:
                lines.append(f"cafile {self.tls.cafile}")
            if self.tls.require_certificate:
                lines.append("require_certificate true")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to 'mosquitto' and loses our files
        return "\n".join(lines) + "\n"

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [self._binary, "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        _LIVE.add(self)

    def _wait_ready(self, timeout_s: float, started_before: int) -> bool:
        # Listening is not enough: mosquitto sets up its signal handlers after opening its
        # sockets, and a SIGHUP (add_user) before that kills it. It logs "running" after.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                return False
            if (
                tcp_open(self.port, self.host)
                and (self.tls_port is None or tcp_open(self.tls_port, self.host))
                and self._log_count(RUNNING_LINE) > started_before
            ):
                return True
            time.sleep(0.02)
        return False

    def _reload(self, timeout_s: float = 5.0) -> None:
        before = self._log_count("Reloading config")
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while self._log_count("Reloading config") <= before:
            if time.monotonic() > deadline or not self.running:
                raise BrokerError(f"mosquitto did not reload its config:\n{self.log_tail()}")
            time.sleep(0.01)

    def _log_count(self, text: str) -> int:
        try:
            return self.log_file.read_text(errors="replace").count(text)
        except FileNotFoundError:
            return 0

    def _reap(self) -> None:
        self._process = None
        _LIVE.discard(self)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


@atexit.register
def _stop_all() -> None:
    for broker in list(_LIVE):
        with contextlib.suppress(Exception):
            broker.stop(timeout_s=2.0)
