"""The ``roomwatch`` command: ``agent``, ``collector`` (and its ``user`` commands), ``demo``,
``broker``, ``probe``, ``report``, ``--version``."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from roomwatch.agent import __version__
from roomwatch.agent.errors import ConfigError
from roomwatch.agent.probe import add_probe_parser, run_probe
from roomwatch.collector.api.users_cli import add_user_parser, run_user_command
from roomwatch.collector.reports.cli import add_report_parser, run_report

DESCRIPTION = """\
Monitoring for recording classrooms: a room agent on each recording PC, a central collector.

  roomwatch agent --config agent.yaml [--check]           run (or validate) a room agent
  roomwatch collector --config collector.yaml [--check]   run (or validate) the collector
  roomwatch collector --config collector.yaml user add NAME --role admin
  roomwatch collector migrate-db --from sqlite:///F.db --to postgresql+psycopg://…
  roomwatch broker add-agent --passwd-file FILE AGENT_ID  a broker account for an agent
  roomwatch broker add-collector --passwd-file FILE --acl-file ACL collector --partitions 16
  roomwatch probe ADDRESS --kind camera                   what roomwatch makes of a device
  roomwatch report --config collector.yaml --site S --quarter 2026Q3 --out report.pdf
  roomwatch demo                                          everything, simulated, on this PC

"roomwatch COMMAND --help" describes each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command and option carries its help."""
    parser = argparse.ArgumentParser(
        prog="roomwatch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"roomwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    agent = sub.add_parser("agent", help="run a room agent", description="Run a room agent.")
    agent.add_argument("--config", required=True, type=Path, help="the agent's YAML file")
    agent.add_argument(
        "--check",
        action="store_true",
        help="validate the config, its profile folders and TLS files, and exit",
    )
    collector = sub.add_parser(
        "collector",
        help="run the central collector, or manage its users",
        description="Run the central collector (ingest, faults, SLA, API and dashboard).",
    )
    collector.add_argument("--config", required=True, type=Path, help="the collector's YAML file")
    collector.add_argument(
        "--check",
        action="store_true",
        help="validate the config and every file it names (inventory, rules, SLA files, "
        "notification channels) without touching the database or the network, and exit",
    )
    add_user_parser(collector)  # roomwatch collector --config F user add NAME --role admin
    demo = sub.add_parser(
        "demo",
        help="simulated classrooms, broker, TSDB and collector on this machine",
        description="Start a broker, a TSDB, the collector and simulated classrooms on free "
        "ports; Ctrl-C stops everything.",
    )
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--rooms", type=int, default=6, help="simulated classrooms (default 6)")
    demo.add_argument(
        "--interval", type=float, default=5.0, help="poll interval of the agents, seconds"
    )
    demo.add_argument("--workdir", type=Path, default=None, help="keep the demo's files here")
    _add_broker_commands(sub)
    add_probe_parser(sub)  # roomwatch probe 192.168.10.11 --kind camera --rtsp URL
    add_report_parser(sub)  # roomwatch report --config F --site S --quarter 2026Q3 --out r.pdf
    return parser


# Commands that run collector code, which needs the [collector] extra; `agent` and `probe`
# work with the base install a room PC has.
COLLECTOR_COMMANDS = frozenset({"collector", "report", "demo", "broker"})
# One module of each kind the collector imports at start: web, SQL, migrations, TSDB.
COLLECTOR_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "influxdb_client", "jinja2")


def missing_collector_modules() -> list[str]:
    """The collector's modules this Python cannot import (empty with the collector extra)."""
    return [name for name in COLLECTOR_MODULES if importlib.util.find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((word for word in argv if not word.startswith("-")), None)
    if command in COLLECTOR_COMMANDS and (missing := missing_collector_modules()):
        print(
            f"roomwatch {command} needs the collector extra: pip install 'roomwatch[collector]' "
            f"(missing: {', '.join(missing)})",
            file=sys.stderr,
        )
        return 2
    if argv[:2] == ["collector", "migrate-db"]:  # needs no collector config
        return run_migrate_db(argv[2:])
    args = build_parser().parse_args(argv)

    if args.command == "broker":
        return run_broker_command(args)
    if args.command == "probe":
        return run_probe(args)
    if args.command == "report":
        return run_report(args)
    if args.command == "agent":
        from roomwatch.agent.__main__ import main as agent_main

        return agent_main(["--config", str(args.config), *(["--check"] if args.check else [])])
    if args.command == "collector":
        if getattr(args, "collector_command", None) == "user":
            return run_user_command(args.config, args)
        return run_collector(args.config, args.check)
    from roomwatch.collector.demo.run import run_demo

    return run_demo(
        duration_s=args.duration, rooms=args.rooms, interval_s=args.interval, workdir=args.workdir
    )


def _add_broker_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = sub.add_parser(
        "broker",
        help="manage the broker's accounts (mosquitto password file)",
        description="Add, rotate or remove accounts in the mosquitto password file of the "
        "shipped broker config; reload the broker afterwards.",
    )
    actions = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add-agent",
        help="give an agent a new generated password (add or rotate); prints it once",
    )
    add.add_argument("--passwd-file", required=True, type=Path, help="mosquitto password file")
    add.add_argument("agent_id", help="the agent id, which is its MQTT username")
    group = actions.add_parser(
        "add-collector",
        help="a collector's account and its group's partition accounts (NAME-p000 ..), one "
        "password; prints it once (or reads it with --password-stdin)",
    )
    group.add_argument("--passwd-file", required=True, type=Path, help="mosquitto password file")
    group.add_argument(
        "--acl-file",
        type=Path,
        help="mosquitto ACL file to append the accounts' blocks to (without it they are "
        "printed on stderr)",
    )
    group.add_argument(
        "--partitions", type=int, default=16, help="the group's group.partitions (16)"
    )
    group.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (the collectors' mqtt.password) from the first line of stdin",
    )
    group.add_argument("name", help="the collectors' mqtt.username, e.g. collector")
    remove = actions.add_parser("remove-agent", help="delete an agent's account")
    remove.add_argument("--passwd-file", required=True, type=Path, help="mosquitto password file")
    remove.add_argument("agent_id", help="the agent id (MQTT username) to delete")


def run_broker_command(args: argparse.Namespace) -> int:
    """add-agent / remove-agent on a mosquitto password file; the broker reloads on SIGHUP."""
    from roomwatch.collector import mqttauth

    try:
        if args.broker_command == "add-collector":
            from roomwatch.collector.group.accounts import run_add_collector

            return run_add_collector(args)
        if args.broker_command == "add-agent":
            password = mqttauth.generate_password()
            replaced = mqttauth.set_password(args.passwd_file, args.agent_id, password)
            action = "new password for" if replaced else "added"
            print(
                f"{action} {args.agent_id} in {args.passwd_file}; reload the broker "
                "(systemctl reload mosquitto), then put this password in the agent's "
                "mqtt.password (shown once):",
                file=sys.stderr,
            )
            print(password)
            return 0
        if not mqttauth.remove_user(args.passwd_file, args.agent_id):
            print(f"{args.agent_id}: not in {args.passwd_file}", file=sys.stderr)
            return 1
        print(f"removed {args.agent_id}; reload the broker", file=sys.stderr)
        return 0
    except mqttauth.AccountError as exc:
        print(f"roomwatch broker: {exc}", file=sys.stderr)
        return 2


def run_migrate_db(argv: list[str]) -> int:
    """Copy a stopped collector's database to another (SQLite to PostgreSQL)."""
    parser = argparse.ArgumentParser(
        prog="roomwatch collector migrate-db",
        description="Copy every table of a stopped collector's database into an empty one "
        "(created to the current schema), in dependency order, and compare the row counts.",
    )
    parser.add_argument("--from", dest="source", required=True, help="e.g. sqlite:///path.db")
    parser.add_argument(
        "--to", dest="target", required=True, help="e.g. postgresql+psycopg://user@host/db"
    )
    args = parser.parse_args(argv)
    from roomwatch.collector.db.copy import CopyError, copy_database

    try:
        copied = copy_database(args.source, args.target)
    except CopyError as exc:
        print(f"migrate-db: {exc}", file=sys.stderr)
        return 2
    print(f"copied {sum(copied.values())} rows in {len(copied)} tables; every count matches")
    return 0


def run_collector(config_path: Path, check: bool) -> int:
    from roomwatch.collector.check import check_collector

    # Every file is checked before the database is created or a socket opens, at a real
    # start as with --check, so a typo is not found only after migrating the database.
    try:
        summary = check_collector(config_path)
    except ConfigError as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    config = summary.config
    if check:
        print(f"{config_path}: ok ({summary.describe()})")
        return 0
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from roomwatch.collector.errors import CollectorError
    from roomwatch.collector.runner import CollectorService

    try:
        service = CollectorService(config)
    except (ConfigError, CollectorError) as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    service.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
