"""``roomwatch collector --config F user ...``: create the first admin, issue tokens, list
users, on the collector's database, without starting the collector.

    user add NAME --role admin [--password-stdin] [--token] [--site S ...]
    user sites NAME [--site S ...]
    user password NAME [--password-stdin]
    user token NAME [--name LABEL]
    user list

A password comes from standard input (``--password-stdin``, first line) or a prompt; a
user without one signs in with tokens only. ``user password`` sets a new one and revokes
all of the user's API tokens and web sessions. ``--token`` (or ``user token``) prints a new
API token alone on standard output, once; nothing else is printed there, so scripts can
capture it. ``--site`` binds the user to a site (repeat it for several): they then see only
those sites; a ``school`` user needs at least one. ``user sites`` replaces the bindings
(none given: unbound).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

# collector.db.workflow_models.ROLES, spelt here so `roomwatch agent` imports no SQL code.
ROLES = ("viewer", "school", "engineer", "admin")


def add_user_parser(collector: argparse.ArgumentParser) -> None:
    commands = collector.add_subparsers(dest="collector_command", metavar="COMMAND")
    user = commands.add_parser(
        "user",
        help="manage API users and tokens",
        description="Users of the dashboard and the API, in the collector's database.",
    )
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a user")
    add.add_argument("name", help="the sign-in name")
    add.add_argument(
        "--role",
        choices=ROLES,
        required=True,
        help="viewer reads, school reports faults for its sites, engineer works faults, admin all",
    )
    add.add_argument(
        "--site",
        dest="sites",
        action="append",
        default=[],
        metavar="SITE",
        help="bind the user to this site id (repeatable): they see only those sites",
    )
    add.add_argument("--display-name", default="", help="the name shown in the dashboard")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--no-password", action="store_true", help="token-only user, no prompt")
    add.add_argument("--token", action="store_true", help="also issue an API token and print it")
    password = actions.add_parser(
        "password", help="set a user's password; revokes all their tokens and sessions"
    )
    password.add_argument("name", help="the sign-in name")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    password.set_defaults(no_password=False)
    token = actions.add_parser("token", help="issue an API token for a user and print it")
    token.add_argument("name", help="the sign-in name")
    token.add_argument("--name", dest="label", default="cli", help="a label for the token")
    sites = actions.add_parser("sites", help="bind a user to sites (none: every site)")
    sites.add_argument("name", help="the sign-in name")
    sites.add_argument(
        "--site", dest="sites", action="append", default=[], metavar="SITE", help="a site id"
    )
    actions.add_parser("list", help="list users")


def run_user_command(config_path: Path, args: argparse.Namespace) -> int:
    from roomwatch.agent.errors import ConfigError
    from roomwatch.collector.api.auth import AuthError, change_password, create_user, issue_token
    from roomwatch.collector.config import load_config
    from roomwatch.collector.db import scope, users_store
    from roomwatch.collector.db.session import open_database
    from roomwatch.collector.errors import NotFoundError

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    db = open_database(config.database.url)
    now = datetime.now(UTC)
    try:
        with db.session() as session:
            if args.user_command == "list":
                for user in users_store.list_users(session):
                    state = "" if user.active else " (disabled)"
                    names = ",".join(scope.sites_of_user(session, user.id))
                    print(f"{user.username}\t{user.role}{state}" + (f"\t{names}" if names else ""))
                return 0
            if args.user_command == "add":
                password = _password(args)
                user = create_user(session, args.name, args.role, now, password, args.display_name)
                _bind(session, user, args.sites)
                print(f"user {user.username} created ({user.role})", file=sys.stderr)
                if args.token:
                    print(issue_token(session, user, now, name="cli").secret)
                return 0
            user = users_store.get_user(session, args.name)
            if args.user_command == "sites":
                bound = _bind(session, user, args.sites)
                print(f"{user.username}: {', '.join(bound) or 'every site'}", file=sys.stderr)
                return 0
            if args.user_command == "password":
                new_password = _password(args)
                if new_password is None:
                    raise AuthError("no password given (use --password-stdin or a terminal)")
                revoked = change_password(session, user, new_password, now)
                print(
                    f"password of {user.username} changed; {revoked} tokens and sessions revoked",
                    file=sys.stderr,
                )
                return 0
            print(issue_token(session, user, now, name=args.label).secret)
            return 0
    except (AuthError, NotFoundError) as exc:
        print(f"roomwatch collector: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()


def _bind(session: object, user: object, sites: list[str]) -> list[str]:
    from roomwatch.collector.api.auth import AuthError
    from roomwatch.collector.db import scope

    try:
        return scope.bind_sites(session, user, sites)  # type: ignore[arg-type]
    except LookupError as exc:
        raise AuthError(f"site {exc.args[0]!r} does not exist") from None


def _password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n") or None
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("roomwatch collector: the passwords differ")
    return first or None


__all__ = ["add_user_parser", "run_user_command"]
