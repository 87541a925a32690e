"""``python -m agent --config FILE [--check]``: run a room agent (also ``roomwatch agent``).

Exit status: 0 after a clean stop (SIGTERM / SIGINT) or a passing ``--check``; 2 when the
configuration (or a file it names: TLS keys, device profiles) is wrong, reported in one
message naming the file, the key and what was expected, before any socket opens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent import __version__
from agent.config import AgentConfig, load_config
from agent.errors import AgentError
from agent.host import HostProbe
from agent.publisher import Publisher
from agent.runner import DevicePoller, Runner, open_spool

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
        print(f"{args.config}: ok (agent {config.agent_id}, {len(config.devices)} devices)")
        return 0
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(run_agent(config))
    except AgentError as exc:  # a file the config names (TLS, profiles) is unusable
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG


async def run_agent(config: AgentConfig) -> int:
    """Build the agent from ``config`` and run it until SIGTERM or SIGINT."""
    runner = build_runner(config)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await runner.run(stop)
    return 0


def build_runner(config: AgentConfig) -> Runner:
    """Wire the real parts together. Raises AgentError (e.g. ConfigError, ProfileError) for
    unusable files the config names; opens no socket."""
    poller = _snmp_poller(config)
    spool = open_spool(config)
    try:
        publisher = Publisher(config, spool)
    except AgentError:
        spool.close()
        raise
    host_probe = HostProbe(config.host) if config.host.enabled else None
    return Runner(config, spool, publisher, host_probe, poller)


def _snmp_poller(config: AgentConfig) -> DevicePoller | None:
    if not config.devices:
        return None  # an agent that only watches its PC needs nothing from the SNMP part
    from agent.snmp.poller import SnmpPoller
    from agent.snmp.profile import ProfileRegistry

    return SnmpPoller(config.snmp, config.devices, ProfileRegistry.load(config.profiles_dirs))


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))


if __name__ == "__main__":
    sys.exit(main())
