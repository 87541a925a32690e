"""Validate every file the collector reads, before it opens a database or a socket.

``roomwatch collector --check`` runs this and stops; a real start runs it first, so a wrong
inventory, rule override, SLA file or notification channel is reported with the file, the
key and what was expected — not after the database was created and migrated. Nothing here
touches the database or the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roomwatch.agent.errors import ConfigError
from roomwatch.collector.config import CollectorConfig, load_config
from roomwatch.collector.errors import CollectorError


@dataclass(frozen=True)
class CheckSummary:
    """What a passing check read, for the one line ``--check`` prints."""

    config: CollectorConfig
    rooms: int
    agents: int
    rules: int
    sla_files: int
    channels: int

    def describe(self) -> str:
        return (
            f"{self.rooms} rooms, {self.agents} agents, {self.rules} rules, "
            f"{self.sla_files} SLA files, {self.channels} notification channels"
        )


def check_collector(path: Path) -> CheckSummary:
    """Read the collector config and every file it names; ConfigError lists every problem,
    each naming the file, the key and what was expected."""
    config = load_config(path)  # a wrong config file hides what the others would say
    problems: list[str] = []
    counts: dict[str, Any] = {"inventory": (0, 0), "rules": 0, "sla": 0, "channels": 0}

    def attempt(what: str, step: Callable[[], Any]) -> None:
        try:
            counts[what] = step()
        except (ConfigError, CollectorError) as exc:
            problems.append(str(exc))

    problems += _missing_files(path, config)
    problems += _time_settings(path, config)
    # A missing file was named above; the steps read the files that are there.
    attempt("inventory", lambda: _inventory(config))
    attempt("rules", lambda: _rules(config))
    attempt("sla", lambda: _sla_files(config))
    attempt("channels", lambda: _channels(path, config))
    attempt("reports", _report_settings)
    if problems:
        raise ConfigError("\n".join(problems))
    rooms, agents = counts["inventory"]
    return CheckSummary(config, rooms, agents, counts["rules"], counts["sla"], counts["channels"])


def _missing_files(path: Path, config: CollectorConfig) -> list[str]:
    """Files the config names that are not there, each with the key that names it."""
    named: list[tuple[str, Path | None]] = [("inventory_file", config.inventory_file)]
    named += [(f"faults.rules_files.{i}", p) for i, p in enumerate(config.faults.rules_files)]
    named += [(f"sla.files.{i}", p) for i, p in enumerate(config.sla.files)]
    tls = config.mqtt.tls
    if tls is not None:
        named += [
            ("mqtt.tls.ca_file", tls.ca_file),
            ("mqtt.tls.cert_file", tls.cert_file),
            ("mqtt.tls.key_file", tls.key_file),
        ]
    email = config.sla.notify.email
    if email is not None:
        named.append(("sla.notify.email.ca_file", email.ca_file))
    return [
        f"{path}: {key}: file not found (expected a readable file: {file})"
        for key, file in named
        if file is not None and not Path(file).is_file()
    ]


def _time_settings(path: Path, config: CollectorConfig) -> list[str]:
    problems = []
    for key, name in (("timezone", config.timezone), ("sla.timezone", config.sla.timezone)):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"{path}: {key}: unknown time zone (expected an IANA name such as "
                f"Asia/Shanghai) (got {name!r})"
            )
    import holidays

    try:
        holidays.country_holidays(config.sla.holidays_country, subdiv=config.sla.holidays_subdiv)
    except NotImplementedError as exc:
        problems.append(
            f"{path}: sla.holidays_country / holidays_subdiv: {exc} (expected a code the "
            "holidays package knows, such as CN)"
        )
    return problems


def _inventory(config: CollectorConfig) -> tuple[int, int]:
    """Rooms and agents of the inventory file (none configured: 0, 0; the start warns)."""
    if config.inventory_file is None or not config.inventory_file.is_file():
        return 0, 0
    from roomwatch.collector.inventory import load_inventory

    inventory = load_inventory(config.inventory_file)
    return len(list(inventory.rooms())), len(inventory.agent_rooms())


def _rules(config: CollectorConfig) -> int:
    from roomwatch.collector.rules.model import load_rule_pack

    return len(load_rule_pack(_present(config.faults.rules_files)))


def _sla_files(config: CollectorConfig) -> int:
    from roomwatch.collector.sla.policies import load_policy_file, shipped_policies

    shipped_policies()
    problems = []
    for file in _present(config.sla.files):
        try:
            load_policy_file(file)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return len(config.sla.files)


def _channels(path: Path, config: CollectorConfig) -> int:
    """Build each channel as the collector would (a generic webhook needs a secret), check
    webhook URLs without echoing them (they carry tokens), and that every channel a contact
    of an SLA file names exists."""
    notify = config.sla.notify
    problems = []
    for name, settings in notify.webhooks.items():
        url = urlsplit(settings.url.get_secret_value())
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append(
                f"{path}: sla.notify.webhooks.{name}.url: expected an http:// or https:// URL"
            )
    try:
        channels = notify.channels()
    except ValueError as exc:
        problems.append(f"{path}: sla.notify: {exc}")
        channels = {}
    known = set(channels) | set(notify.webhooks)
    problems += _contact_channels(config.sla.files, known)
    if problems:
        raise ConfigError("\n".join(problems))
    return len(channels)


def _contact_channels(files: list[Path], known: set[str]) -> list[str]:
    from roomwatch.collector.sla.policies import load_policy_file

    problems = []
    for file in _present(files):
        try:
            data = load_policy_file(file)
        except ConfigError:
            continue  # reported by _sla_files
        for i, contact in enumerate(data.contacts):
            for j, channel in enumerate(contact.channels):
                if channel not in known:
                    expected = ", ".join(sorted(known)) or "none is configured"
                    problems.append(
                        f"{file}: contacts.{i}.channels.{j}: unknown channel {channel!r} "
                        f"(expected a channel under sla.notify of the collector config: "
                        f"{expected})"
                    )
    return problems


def _present(files: list[Path]) -> list[Path]:
    return [file for file in files if file.is_file()]


def _report_settings() -> int:
    """The report data files shipped with roomwatch (catalog, hazards, checklist)."""
    from roomwatch.collector.reports.checklist import default_items
    from roomwatch.collector.reports.settings import catalog, hazard_settings

    catalog()
    hazard_settings()
    return len(default_items())
