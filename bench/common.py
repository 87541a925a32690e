"""What the benches share: the machine line, peers that may be missing, process sampling,
percentiles and wrk's latency report.

Every bench prints the machine it ran on first and at least one line starting with
``ratio`` (the smoke test looks for it); a peer that is not installed is named with the
Debian package that brings it, and the bench then exits with ``EXIT_PEER_MISSING``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
EXIT_PEER_MISSING = 3
MIB = 1024 * 1024


def machine_line() -> str:
    """CPUs, CPU model, memory and the load average right now (other work skews a bench)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    memory_gib = psutil.virtual_memory().total / 2**30
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), {memory_gib:.1f} GiB RAM, "
        f"Python {platform.python_version()}, load average {load}"
    )


def find_peer(binary: str, package: str) -> str | None:
    """Path of a peer's binary, or None after saying plainly which package is missing."""
    for candidate in (binary, f"/usr/sbin/{binary}", f"/usr/bin/{binary}"):
        found = shutil.which(candidate)
        if found:
            return found
    print(
        f"PEER MISSING: {binary} is not installed; install it with "
        f"`apt-get install -y --no-install-recommends {package}`"
    )
    return None


def debian_version(package: str) -> str:
    """The installed version of a Debian package, or '?'."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "?"


@dataclass(frozen=True)
class ProcSample:
    rss_bytes: int
    cpu_s: float


def sample_tree(pid: int) -> ProcSample | None:
    """RSS (summed over the process and its children) and CPU seconds used so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss, cpu = 0, 0.0
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            continue
    return ProcSample(rss, cpu)


def uss_bytes(pid: int) -> int | None:
    """Memory only this process holds (no shared libraries counted); None if unreadable."""
    try:
        return int(psutil.Process(pid).memory_full_info().uss)
    except (psutil.Error, AttributeError):
        return None


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (0..100) of ``values`` (not empty)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio_text(ours: float, peer: float | None, digits: int = 2) -> str:
    if peer is None or peer == 0:
        return "n/a"
    return f"{ours / peer:.{digits}f}"


@dataclass(frozen=True)
class WrkResult:
    """What ``wrk --latency`` reported; latencies in milliseconds."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int  # answers that were not 2xx/3xx
    socket_errors: int  # connect/read/write errors
    timeouts: int  # requests without an answer within wrk's --timeout


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Parse the text ``wrk --latency`` prints."""
    pct = {
        m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.M)
    }
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if total is None or rate is None or "99" not in pct:
        raise ValueError(f"unexpected wrk output:\n{output}")
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write) (\d+)", output))
    timeouts = sum(int(n) for n in re.findall(r"timeout (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_s=float(rate.group(1)),
        p50_ms=pct["50"],
        p75_ms=pct["75"],
        p90_ms=pct["90"],
        p99_ms=pct["99"],
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=socket_errors,
        timeouts=timeouts,
    )


def run_wrk(
    wrk: str,
    url: str,
    *,
    threads: int,
    connections: int,
    duration_s: float,
    headers: Iterable[str] = (),
    script: Path | None = None,
) -> WrkResult:
    """One bounded wrk run (``-d``) with its latency report."""
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s"]
    argv += ["--latency", "--timeout", "10s"]
    for header in headers:
        argv += ["-H", header]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def start_py_spy(output: Path | None, pid: int, seconds: float) -> subprocess.Popen[str] | None:
    if output is None:
        return None
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(binary).exists():
        print("py-spy not found: .venv/bin/pip install py-spy")
        return None
    argv = [binary, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "100",
            "-f", "raw", "-o", str(output), "--nonblocking"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


# Leaf frames of a thread that waits (py-spy --nonblocking may sample those as busy).
_WAITING = ("Condition.wait ", "Event.wait ", "Queue.get ", "EpollSelector.select ", "_worker ")


def report_py_spy(spy: subprocess.Popen[str], output: Path, top: int = 25) -> None:
    """The functions a process spent its samples in (inclusive), from py-spy's raw stacks."""
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # A busy machine makes py-spy lag behind its -d; SIGINT makes it write what it has.
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
    if not output.exists():
        print(f"py-spy wrote nothing: {spy.stderr.read() if spy.stderr else ''}")
        return
    inclusive: dict[str, int] = {}
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or stack.split(";")[-1].startswith(_WAITING):
            continue
        total += int(count)
        # Function (file) without the line: a recursive function counts once per sample.
        names = {
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")"
            for f in stack.split(";")
        }
        for name in names:
            inclusive[name] = inclusive.get(name, 0) + int(count)
    print(f"py-spy: {total} samples of the busy threads (100/s); hottest, inclusive:")
    for name, samples in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {samples / max(total, 1) * 100:5.1f}%  {name}")
