"""Serve recordings of real devices (``.snmprec`` files) over SNMP v2c with snmpsim.

A recording is what a real device answered to a walk, one ``OID|type|value`` line per
variable (snmpsim's format; ``#`` lines are comments). ``RecordingServer`` copies the given
files into a private folder and starts ``snmpsim-command-responder`` on a free UDP port of
127.0.0.1; each file is served under the community named after the file (``apc.snmprec`` ->
community ``apc``). It is what ``roomwatch probe --snmprec FILE`` and the profile tests use.
``self.snmprec`` is snmpsim's default recording: community "" and the default (empty)
context of SNMPv3 requests. ``responder_args`` are further snmpsim options, e.g. an SNMPv3
user (``--v3-user``, ``--v3-auth-key``, ...).

snmpsim refuses to run as root unless told which user to drop to; it is told to "drop" to
the user it already runs as, so it works for root (CI) and any other user alike, and never
needs read access for a separate account to the interpreter's files.

snmpsim is an optional dependency: ``pip install "roomwatch[recordings]"``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.snmp.ber import encode_get, message_header

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0  # snmpsim indexes every file before it answers; CI machines are slow


class RecordingError(ConfigError):
    """A recording cannot be served (missing snmpsim, unreadable file, start failed)."""


def _responder_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("snmpsim-command-responder")
    found = str(beside_python) if beside_python.exists() else None
    found = found or shutil.which("snmpsim-command-responder")
    if found is None:
        raise RecordingError(
            "snmpsim-command-responder not found: install it with "
            "pip install 'roomwatch[recordings]' (or: pip install snmpsim pysmi)"
        )
    return [found]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RecordingServer:
    """snmpsim serving ``recordings`` on ``HOST:port``; use as a context manager.

    ``community(path)`` is the community under which a file is served.
    """

    def __init__(self, recordings: list[Path], responder_args: Sequence[str] = ()) -> None:
        if not recordings:
            raise RecordingError("no recording given")
        names = [self.community(p) for p in recordings]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise RecordingError(f"two recordings share a file name: {', '.join(repeated)}")
        for path in recordings:
            if not path.is_file():
                raise RecordingError(f"{path}: no such recording file")
        self.recordings = list(recordings)
        self.responder_args = list(responder_args)
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def community(path: Path) -> str:
        name = path.name.removesuffix(".snmprec")
        return "" if name == "self" else name

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> RecordingServer:
        command = _responder_command()
        self._dir = tempfile.TemporaryDirectory(prefix="roomwatch-snmprec-")
        data_dir = Path(self._dir.name, "data")
        cache_dir = Path(self._dir.name, "cache")
        data_dir.mkdir()
        cache_dir.mkdir()
        for path in self.recordings:
            shutil.copyfile(path, data_dir / path.name)
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        log_path = Path(self._dir.name, "snmpsim.log")
        for _ in range(3):  # the free port may be taken between the probe and the bind
            self.port = _free_udp_port()
            with log_path.open("wb") as log:
                self._process = subprocess.Popen(
                    [
                        *command,
                        f"--data-dir={data_dir}",
                        f"--cache-dir={cache_dir}",
                        f"--agent-udpv4-endpoint={HOST}:{self.port}",
                        f"--process-user={user}",
                        f"--process-group={group}",
                        "--log-level=error",
                        *self.responder_args,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready():
                return self
            self._kill()
        tail = log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RecordingError(f"snmpsim did not start:\n{tail}")

    def _wait_ready(self) -> bool:
        """True once snmpsim answers a GET under the first recording's community."""
        community = self.community(self.recordings[0]).encode()
        request = encode_get(message_header(community), 1, ["1.3.6.1.2.1.1.1.0"])
        deadline = time.monotonic() + START_TIMEOUT_S
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    return False
                try:
                    sock.sendto(request, (HOST, self.port))
                    sock.recvfrom(65535)
                    return True
                except OSError:
                    continue
        return False

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        self._kill()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
