"""``python -m roomwatch.agent --config FILE [--check]``: run a room agent (also
``roomwatch agent``).

Exit status: 0 after a clean stop (SIGTERM / SIGINT) or a passing ``--check``; 2 when the
configuration (or a file it names: TLS keys, device profiles) is wrong, reported in one
message naming the file, the key and what was expected, before any socket opens.

SIGHUP (POSIX) reloads the file: a valid one is switched to between two cycles, keeping the
spool and, unless the broker is reached differently, the connection; an invalid one is
rejected with the same message as at start, and the running configuration stays. Under
systemd (``Type=notify``) the agent reports READY=1 after its first cycle and WATCHDOG=1
while cycles keep coming.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from roomwatch.agent import __version__
from roomwatch.agent.config import AgentConfig, load_config
from roomwatch.agent.errors import AgentError, ConfigError
from roomwatch.agent.host import HostProbe
from roomwatch.agent.publisher import Publisher, needs_new_connection
from roomwatch.agent.runner import DevicePoller, Runner, TrapSource, open_spool
from roomwatch.agent.sdnotify import Notifier
from roomwatch.agent.snmp.extra import require_pysnmp

if TYPE_CHECKING:
    from roomwatch.agent.healthhttp import HealthServer

log = logging.getLogger("roomwatch.agent")

PROG = "roomwatch agent"
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]), then check the config or run the agent."""
    parser = argparse.ArgumentParser(prog=PROG, description="roomwatch room agent")
    parser.add_argument("--config", required=True, type=Path, help="the agent's YAML file")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--version", action="version", version=f"roomwatch {__version__}")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except AgentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        from roomwatch.agent.check import check_agent

        try:
            profiles = check_agent(args.config, config)
        except AgentError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        print(
            f"{args.config}: ok (agent {config.agent_id}, {len(config.devices)} devices, "
            f"{profiles} profiles)"
        )
        return 0
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(run_agent(config, args.config))
    except AgentError as exc:  # a file the config names (TLS, profiles) is unusable
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG


async def run_agent(config: AgentConfig, config_path: Path | None = None) -> int:
    """Build the agent from ``config`` and run it until SIGTERM or SIGINT; with
    ``config_path``, SIGHUP reloads that file."""
    runner = build_runner(config)
    try:
        health = _health_server(config, runner)
    except ConfigError:
        runner.spool.close()
        raise
    notifier = Notifier()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    if config_path is not None:
        reloader = Reloader(config_path, runner)
        _on_sighup(lambda: asyncio.ensure_future(reloader.reload()))
    supervisor = asyncio.create_task(_supervise(runner, notifier, stop))
    try:
        await runner.run(stop)
    finally:
        supervisor.cancel()
        if health is not None:
            health.close()
    return 0


class Reloader:
    """Re-reads the config file and switches the runner to it, or says why it cannot."""

    def __init__(self, path: Path, runner: Runner) -> None:
        self.path = path
        self.runner = runner
        self._lock = asyncio.Lock()

    async def reload(self) -> bool:
        """True when the new file is running; False (logged) when it was rejected."""
        async with self._lock:
            old = self.runner.config
            try:
                new = load_config(self.path)
                _check_unchanged_identity(old, new)
                host_probe, poller, publisher = _build_parts(old, new, self.runner)
            except AgentError as exc:
                log.error("reload rejected; the running configuration stays: %s", exc)
                return False
            logging.getLogger().setLevel(new.log_level)
            try:
                await self.runner.reconfigure(new, host_probe, poller, publisher)
            except Exception:  # a bug, not the file: say so, keep running what we have
                log.exception("reload of %s failed while switching over", self.path)
                return False
            log.info(
                "reloaded %s: %d devices every %g s%s",
                self.path,
                len(new.devices),
                new.interval_s,
                ", reconnecting to the broker" if publisher is not None else "",
            )
            return True


_RESTART_ONLY = ("agent_id", "state_dir", "health_http")


def _check_unchanged_identity(old: AgentConfig, new: AgentConfig) -> None:
    changed = [key for key in _RESTART_ONLY if getattr(old, key) != getattr(new, key)]
    if changed:
        raise ConfigError(f"{', '.join(changed)} cannot change while running; restart the agent")


def _build_parts(
    old: AgentConfig, new: AgentConfig, runner: Runner
) -> tuple[HostProbe | None, DevicePoller | None, Publisher | None]:
    """What a reload replaces, built (and validated) before anything running is touched.

    Built on the event loop's thread: the SNMP client belongs to that loop."""
    poller = _snmp_poller(new)
    try:
        publisher = Publisher(new, runner.spool) if needs_new_connection(old, new) else None
    except AgentError:
        if poller is not None:
            poller.close()
        raise
    host_probe = HostProbe(new.host) if new.host.enabled else None
    return host_probe, poller, publisher


def _health_server(config: AgentConfig, runner: Runner) -> HealthServer | None:
    if not config.health_http.enabled:
        return None
    from roomwatch.agent.healthhttp import HealthServer  # http.server: loaded only when it is on

    server = HealthServer(config.health_http, config.agent_id, runner.health_snapshot)
    server.start()
    return server


async def _supervise(runner: Runner, notifier: Notifier, stop: asyncio.Event) -> None:
    """Tell systemd READY=1 after the first cycle, then WATCHDOG=1 while cycles progress
    (a hung loop stops the pings, and systemd restarts the agent)."""
    await runner.started.wait()
    config = runner.config
    notifier.ready(f"agent {config.agent_id} polling every {config.interval_s:g} s")
    period_s = notifier.watchdog_interval_s
    while period_s is not None and not stop.is_set():
        if runner.progressing():
            notifier.watchdog()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period_s)
    await stop.wait()
    notifier.stopping()


def build_runner(config: AgentConfig) -> Runner:
    """Wire the real parts together. Raises AgentError (e.g. ConfigError, ProfileError) for
    unusable files the config names; opens no socket."""
    require_pysnmp(config)  # the base install has no pysnmp: say which extra, not a traceback
    poller = _snmp_poller(config)
    spool = open_spool(config)
    try:
        publisher = Publisher(config, spool)
    except AgentError:
        spool.close()
        raise
    host_probe = HostProbe(config.host) if config.host.enabled else None
    traps = _trap_listener(config, poller)
    return Runner(config, spool, publisher, host_probe, poller, traps=traps)


def _snmp_poller(config: AgentConfig) -> DevicePoller | None:
    devices = [d for d in config.devices if d.snmp]
    if not devices:
        return None  # an agent that watches only its PC (or uses checks only) needs no SNMP
    from roomwatch.agent.snmp.poller import SnmpPoller
    from roomwatch.agent.snmp.profile import ProfileRegistry

    return SnmpPoller(config.snmp, devices, ProfileRegistry.load(config.profiles_dirs))


def _trap_listener(config: AgentConfig, poller: DevicePoller | None) -> TrapSource | None:
    if not config.snmp.traps.enabled:
        return None  # switching traps on later takes a restart
    from roomwatch.agent.snmp.profile import ProfileRegistry
    from roomwatch.agent.snmp.traps import TrapListener

    registry = ProfileRegistry.load(config.profiles_dirs)
    profile_of = getattr(poller, "profile_of", None)
    return TrapListener(config.snmp, config.devices, registry, profile_of)


def _on_sighup(callback: Callable[[], object]) -> None:
    """Run ``callback`` on SIGHUP where there is one (not on Windows: restart the service)."""
    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, callback)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))


if __name__ == "__main__":
    sys.exit(main())
