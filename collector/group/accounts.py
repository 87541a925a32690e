"""Broker accounts of a collector group: the collector's own and one per partition.

``roomwatch broker add-collector --passwd-file F [--acl-file A] NAME --partitions P`` gives
NAME and NAME-p000 .. NAME-p(P-1) one password (generated and printed once, or read from
stdin) in the mosquitto password file, and the ACL block each account needs: read every
agent's topics, write nothing (the agents' ``pattern write`` line applies to every account,
so each block denies its own name's subtree, as ``deploy/mosquitto/acl`` explains).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from roomwatch.agent.wire import COLLECTOR_ACL_READ, TOPIC_PREFIX
from roomwatch.collector import mqttauth
from roomwatch.collector.group.partitions import partition_account

_USER_LINE = re.compile(r"^\s*user\s+(\S+)\s*$")


def group_accounts(name: str, partitions: int) -> list[str]:
    """NAME and its partition accounts, in the order the group uses them."""
    if not 1 <= partitions <= 999:
        raise mqttauth.AccountError(f"--partitions must be 1..999, not {partitions}")
    return [name, *(partition_account(name, p) for p in range(partitions))]


def acl_block(account: str) -> str:
    return f"user {account}\n{COLLECTOR_ACL_READ}\ntopic deny {TOPIC_PREFIX}/{account}/#\n"


def add_collector(passwd_file: Path, name: str, partitions: int, password: str) -> list[str]:
    """Set ``password`` for every account of the group; the accounts, in order."""
    if not password or "\n" in password or ":" in password:
        raise mqttauth.AccountError("the password must be one line without ':'")
    accounts = group_accounts(name, partitions)
    mqttauth.set_passwords(passwd_file, accounts, password)
    return accounts


def add_acl_blocks(acl_file: Path, accounts: list[str]) -> list[str]:
    """Append a block for each account the ACL file has no ``user`` block for; the accounts
    added. Blocks already there are left as the administrator wrote them."""
    try:
        text = acl_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise mqttauth.AccountError(
            f"{acl_file}: no such ACL file (start from deploy/mosquitto/acl)"
        ) from None
    except OSError as exc:
        raise mqttauth.AccountError(f"{acl_file}: cannot read: {exc.strerror}") from None
    present = {m.group(1) for line in text.splitlines() if (m := _USER_LINE.match(line))}
    missing = [account for account in accounts if account not in present]
    if missing:
        blocks = "\n".join(acl_block(account) for account in missing)
        separator = (
            "" if text.endswith("\n\n") or not text else ("\n" if text.endswith("\n") else "\n\n")
        )
        try:
            with acl_file.open("a", encoding="utf-8") as handle:
                handle.write(separator + blocks)
        except OSError as exc:
            raise mqttauth.AccountError(f"{acl_file}: cannot write: {exc.strerror}") from None
    return missing


def run_add_collector(args: argparse.Namespace) -> int:
    """The CLI: accounts into the password file, blocks into the ACL file (or on stderr);
    a generated password on stdout, once. The password is never logged."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password, generated = mqttauth.generate_password(), True
    accounts = add_collector(args.passwd_file, args.name, args.partitions, password)
    first, last = accounts[0], accounts[-1]
    print(
        f"{len(accounts)} accounts ({first}, {accounts[1]} .. {last}) in {args.passwd_file}",
        file=sys.stderr,
    )
    if args.acl_file is not None:
        added = add_acl_blocks(args.acl_file, accounts)
        print(f"{len(added)} ACL blocks added to {args.acl_file}", file=sys.stderr)
    else:
        print("add these blocks to the broker's ACL file:\n", file=sys.stderr)
        print("\n".join(acl_block(account) for account in accounts), file=sys.stderr)
    print("reload the broker (systemctl reload mosquitto)", end="", file=sys.stderr)
    if generated:
        print("; put this password in every member's mqtt.password (shown once):", file=sys.stderr)
        print(password)
    else:
        print(file=sys.stderr)
    return 0
