"""The README's "Running it for real" walk, run as written: its fenced commands and files, in
order, with this test's ports and a temporary directory in place of /etc and /var/lib.

Every command of the section must be one the test knows how to run (``_run_command``); a new
or changed command the test does not recognise fails it, so the README cannot drift from what
works. Substituted: root paths, ports, the broker's host name and the printed passwords;
``sudo`` is dropped; ``systemctl restart mosquitto`` starts mosquitto on the installed config
with its root-only paths and ports templated, as ``collector.demo.shipped_broker`` does.
Not run: the install line (the test runs from the installed checkout) and
``roomwatch probe`` (it needs a device on the network; tests/agent covers it).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from roomwatch.collector.demo.procs import free_port, require_binary, tcp_open, wait_for
from roomwatch.collector.demo.tsdb import VictoriaMetrics

ROOT = Path(__file__).resolve().parents[2]
ROOMWATCH = Path(sys.executable).with_name("roomwatch")
ADMIN_PASSWORD = "first-admin-Pa55word"
SECTION = "## Running it for real"
PASSWORD_PLACEHOLDERS = {"COLLECTOR-PASSWORD": "collector", "AGENT-PASSWORD": "room-101"}


def readme_walk(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of the walk section, in order: (language, body)."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


@dataclass
class Walk:
    tmp: Path
    tsdb_url: str
    ports: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    previous_cwd: Path = ROOT
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def local(self, text: str) -> str:
        """The README's text with this test's paths, ports, host name and passwords."""
        for root in ("/etc/mosquitto/", "/etc/roomwatch/", "/var/lib/roomwatch"):
            text = text.replace(root, f"{self.tmp}{root}")
        text = text.replace("mqtt.example.edu", "localhost")
        text = text.replace("port: 1883", f"port: {self.ports['mqtt']}")
        text = text.replace("port: 8883", f"port: {self.ports['mqtts']}")
        text = text.replace("port: 8000", f"port: {self.ports['api']}")
        text = text.replace("http://127.0.0.1:8428", self.tsdb_url)
        for placeholder, account in PASSWORD_PLACEHOLDERS.items():
            if placeholder in text:
                text = text.replace(placeholder, self.passwords[account])
        return text

    def start(self, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _run_command(walk: Walk, line: str) -> None:
    if line.startswith("sudo "):
        line = line.removeprefix("sudo ")
    words = shlex.split(line)
    if words[0] == "cd":
        target = walk.previous_cwd if words[1:] == ["-"] else Path(walk.local(words[1]))
        walk.previous_cwd, walk.cwd = walk.cwd, target
        return
    if words[:2] == ["apt-get", "install"]:
        # The packages the walk needs: the test runs their binaries.
        assert words[2:] == ["mosquitto", "victoria-metrics"]
        require_binary("mosquitto", "mosquitto")
        for folder in ("etc/mosquitto/conf.d", "var/lib/mosquitto"):  # as the package makes
            (walk.tmp / folder).mkdir(parents=True, exist_ok=True)
        return
    if words[:3] == ["systemctl", "restart", "mosquitto"]:
        _start_broker(walk)
        return
    if words[0] == "chown" and words[1] == "mosquitto:":
        for path in words[2:]:  # the test's broker runs as this user: the files must exist
            assert Path(walk.local(path)).is_file(), path
        return
    if words[0] == "roomwatch":
        _run_roomwatch(walk, [walk.local(word) for word in words[1:]])
        return
    if words[0] in ("install", "mkdir", "openssl"):
        local = walk.local(line)
        done = subprocess.run(
            ["bash", "-c", local], cwd=walk.cwd, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"{local}\n{done.stderr}"
        return
    pytest.fail(f"README command the walk test does not know: {line!r}")


def _run_roomwatch(walk: Walk, args: list[str]) -> None:
    command = [str(ROOMWATCH), *args]
    if args[0] == "probe":
        return  # needs a device on the network (see the module docstring)
    if args[:2] == ["broker", "add-agent"]:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        walk.passwords[args[-1]] = done.stdout.strip()
        return
    if "user" in args:
        _add_user_on_a_terminal(command)
        return
    if "--check" in args:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": ok" in done.stdout
        return
    assert args[0] in ("collector", "agent") and len(args) == 3, args
    walk.start(command, args[0])
    if args[0] == "collector":
        wait_for(lambda: tcp_open(walk.ports["api"]), 30, f"collector\n{walk.log('collector')}")


def _add_user_on_a_terminal(command: list[str]) -> None:
    """``user add`` asks for the password twice on a terminal; it is typed at each prompt (a
    prompt flushes what was typed before it, as on a real terminal)."""
    controller, terminal = pty.openpty()
    said = ""
    try:
        process = subprocess.Popen(
            command, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
        )
        for prompt in ("password: ", "again: "):
            said += _read_until(controller, prompt, process)
            os.write(controller, f"{ADMIN_PASSWORD}\n".encode())
        status = process.wait(timeout=60)
        said += _read_until(controller, "\n", process)
    finally:
        os.close(terminal)
        os.close(controller)
    assert status == 0, said
    assert "user admin created (admin)" in said


def _read_until(fd: int, text: str, process: subprocess.Popen[bytes]) -> str:
    seen = ""
    deadline = time.monotonic() + 30
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 4096).decode(errors="replace")
        elif process.poll() is not None and text not in seen:
            break
    assert text in seen, f"waited for {text!r}; the terminal showed: {seen!r}"
    return seen


def _start_broker(walk: Walk) -> None:
    """mosquitto on the installed config, its root-only paths and ports made the test's."""
    conf = walk.tmp / "etc/mosquitto/conf.d/roomwatch.conf"
    text = walk.local(conf.read_text(encoding="utf-8"))
    text = text.replace("listener 1883 127.0.0.1", f"listener {walk.ports['mqtt']} 127.0.0.1")
    text = text.replace("listener 8883", f"listener {walk.ports['mqtts']}")
    text = text.replace("/var/lib/mosquitto/", f"{walk.tmp}/var/lib/mosquitto/")
    text = text.replace("log_dest syslog", f"log_dest file {walk.tmp}/mosquitto.log")
    if os.geteuid() == 0:  # else it drops to 'mosquitto', which the chown above stood for
        text += "\nuser root\n"
    local = walk.tmp / "mosquitto-local.conf"
    local.write_text(text, encoding="utf-8")
    walk.start([require_binary("mosquitto", "mosquitto"), "-c", str(local)], "mosquitto-run")
    wait_for(
        lambda: tcp_open(walk.ports["mqtts"]) and tcp_open(walk.ports["mqtt"]),
        10,
        f"mosquitto\n{walk.log('mosquitto-run')}",
    )


def _write_file(walk: Walk, body: str) -> None:
    first, _ = body.split("\n", 1)
    assert first.startswith("# /etc/roomwatch/"), f"a README file block names its path: {first}"
    path = Path(walk.local(first.removeprefix("# ").strip()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(walk.local(body), encoding="utf-8")


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    tsdb = VictoriaMetrics(tmp_path / "tsdb")
    tsdb.start()
    walk = Walk(tmp_path, tsdb.url)
    walk.ports = {"mqtt": free_port(), "mqtts": free_port(), "api": free_port()}
    yield walk
    for process in reversed(walk.processes):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    tsdb.stop()


def test_the_readme_walk_runs_as_written(walk: Walk) -> None:
    blocks = readme_walk((ROOT / "README.md").read_text(encoding="utf-8"))
    install, *steps = blocks
    # The install block: from a checkout, which is how this test's roomwatch is installed.
    assert install == ("bash", install[1]) and 'pip install ".[collector]"' in install[1]
    assert "pip install roomwatch" not in "".join(body for _, body in blocks)
    for language, body in steps:
        if language == "yaml":
            _write_file(walk, body)
            continue
        assert language == "bash"
        for raw in body.splitlines():
            line = raw.split("  #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            for command in line.split(" && "):
                _run_command(walk, command.strip())

    # What the README promises at the end: signed in as admin, room 101's PC is online.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    api = f"http://127.0.0.1:{walk.ports['api']}"
    login = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    request = urllib.request.Request(
        f"{api}/api/auth/login", login, {"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=10) as response:
        assert json.load(response)["role"] == "admin"

    def room_online() -> bool:
        with opener.open(f"{api}/api/rooms", timeout=10) as response:
            rooms = {room["id"]: room for room in json.load(response)}
        room = rooms.get("room-101")
        return bool(room and room["online"] and room["device_count"] >= 1)

    wait_for(room_online, 20, f"room-101 online\n{walk.log('agent')}\n{walk.log('collector')}")
    with opener.open(f"{api}/api/rooms/room-101", timeout=10) as response:
        detail = json.load(response)
    assert (detail["room"]["name"], detail["room"]["site_name"]) == ("101 录播教室", "北校区")
    assert "host" in [device["id"] for device in detail["devices"]]  # the recording PC
