"""The ``roomwatch`` command: ``agent``, ``collector``, ``demo``, ``--version``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from agent import __version__
from agent.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="roomwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"roomwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    agent = sub.add_parser("agent", help="run a room agent")
    agent.add_argument("--config", required=True, type=Path)
    agent.add_argument("--check", action="store_true", help="validate the config and exit")
    collector = sub.add_parser("collector", help="run the central collector")
    collector.add_argument("--config", required=True, type=Path)
    collector.add_argument("--check", action="store_true", help="validate the config and exit")
    demo = sub.add_parser(
        "demo", help="simulated classrooms, broker, TSDB and collector on this machine"
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--rooms", type=int, default=6)
    demo.add_argument(
        "--interval", type=float, default=5.0, help="poll interval of the agents, seconds"
    )
    demo.add_argument("--workdir", type=Path, default=None, help="keep the demo's files here")
    args = parser.parse_args(argv)

    if args.command == "agent":
        from agent.__main__ import main as agent_main

        return agent_main(["--config", str(args.config), *(["--check"] if args.check else [])])
    if args.command == "collector":
        return run_collector(args.config, args.check)
    from collector.demo.run import run_demo

    return run_demo(
        duration_s=args.duration, rooms=args.rooms, interval_s=args.interval, workdir=args.workdir
    )


def run_collector(config_path: Path, check: bool) -> int:
    from collector.config import load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    if check:
        print(f"{config_path}: ok")
        return 0
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from collector.errors import CollectorError
    from collector.runner import CollectorService

    try:
        service = CollectorService(config)
    except (ConfigError, CollectorError) as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    service.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
