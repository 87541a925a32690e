"""The shipped broker settings (``deploy/mosquitto/``), read so that the test and demo broker
runs with exactly them and only its paths, ports and logs are its own.

From ``mosquitto.conf``: every global setting except file locations, sizes and logging
(``LOCAL_KEYS``), and the settings every shipped listener repeats apart from its TLS files
(``use_username_as_clientid``). From ``acl``: the lines for all accounts (the agents'
pattern) and the block of the shipped collector account, which serves as the template for
every collector account the broker is given (its name replaced in its topics).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"

# Set by MosquittoBroker itself: where its files are, how much it keeps, where it logs.
LOCAL_KEYS = frozenset(
    {
        "password_file",
        "acl_file",
        "persistence_location",
        "autosave_interval",
        "max_queued_messages",
        "log_dest",
        "user",
    }
)
# A listener's own address and certificate files; the broker sets its own.
LISTENER_LOCAL_KEYS = frozenset(
    {"listener", "certfile", "keyfile", "cafile", "capath", "tls_version", "require_certificate"}
)


class ShippedConfigError(RuntimeError):
    """deploy/mosquitto is missing or not in the shape this module reads."""


@dataclass(frozen=True)
class ShippedBroker:
    settings: tuple[str, ...]  # global lines of mosquitto.conf, in order
    listener_settings: tuple[str, ...]  # lines every listener carries
    acl_common: tuple[str, ...]  # ACL lines before the first "user" block
    collector_name: str  # the shipped collector account
    collector_acl: tuple[str, ...]  # its block, "user" line excluded

    def acl_text(self, collector_users: list[str] | set[str]) -> str:
        """The ACL for these collector accounts: the shipped one with a block per account."""
        lines = list(self.acl_common)
        for user in sorted(set(collector_users)):
            lines += ["", f"user {user}"]
            lines += [_rename(line, self.collector_name, user) for line in self.collector_acl]
        return "\n".join(lines) + "\n"


def load_shipped(deploy_dir: Path = DEPLOY_DIR) -> ShippedBroker:
    """Read ``mosquitto.conf`` and ``acl`` from ``deploy_dir``; ShippedConfigError if unusable."""
    settings, listeners = _read_conf(_read(deploy_dir / "mosquitto.conf"))
    if not listeners:
        raise ShippedConfigError(f"{deploy_dir / 'mosquitto.conf'}: no listener")
    if any(block != listeners[0] for block in listeners):
        raise ShippedConfigError(
            f"{deploy_dir / 'mosquitto.conf'}: the listeners differ ({listeners}); "
            "every listener must carry the same security settings"
        )
    common, blocks = _read_acl(_read(deploy_dir / "acl"))
    if len(blocks) != 1:
        raise ShippedConfigError(f"{deploy_dir / 'acl'}: expected one collector 'user' block")
    [(name, block)] = blocks.items()
    return ShippedBroker(tuple(settings), tuple(listeners[0]), tuple(common), name, tuple(block))


def _read(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ShippedConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _read_conf(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    settings: list[str] = []
    listeners: list[list[str]] = []
    for line in lines:
        key = line.split()[0]
        if key == "listener":
            listeners.append([])
        elif listeners:
            if key not in LISTENER_LOCAL_KEYS:
                listeners[-1].append(line)
        elif key not in LOCAL_KEYS:
            settings.append(line)
    return settings, listeners


def _read_acl(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    common: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        key, _, rest = line.partition(" ")
        if key == "user":
            current = blocks.setdefault(rest.strip(), [])
        elif current is not None:
            current.append(line)
        else:
            common.append(line)
    return common, blocks


def _rename(line: str, old: str, new: str) -> str:
    """``line`` with topic levels equal to ``old`` renamed to ``new`` (the own-name deny)."""
    *head, topic = line.split(" ")
    levels = [new if level == old else level for level in topic.split("/")]
    return " ".join([*head, "/".join(levels)])
