"""Broker accounts: entries of a mosquitto password file, written without mosquitto_passwd.

An agent's MQTT username is its agent id (the ACL pins it to its own topics, see
``agent.wire``), and each agent has its own password. ``roomwatch broker add-agent
--passwd-file F AGENT`` sets a fresh generated password for AGENT (adding or replacing its
line) and prints it once. The broker re-reads the file on SIGHUP (``systemctl reload
mosquitto``) and at once disconnects clients whose password no longer matches, so rotating
is: new password into the agent's config and reload the agent (used from its next connect),
then reload the broker (docs/operations.md).

Hashes are mosquitto 2.0's ``$7$`` format (PBKDF2-SHA512, 101 iterations, 12-byte salt),
exactly what ``mosquitto_passwd`` writes. No password is ever logged or passed on a
command line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from roomwatch.agent.wire import AGENT_ID_PATTERN

_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
_AGENT_ID = re.compile(AGENT_ID_PATTERN)


class AccountError(ValueError):
    """A username or password file that cannot be used; the message says why."""


def password_hash(password: str, salt: bytes | None = None) -> str:
    """The ``$7$`` (PBKDF2-SHA512) hash mosquitto_passwd writes for ``password``."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS, 64)
    b64 = base64.b64encode
    return f"$7${_PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``hashed`` (a ``$7$`` entry) is the hash of ``password``."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        computed = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations), 64
        )
    except ValueError:
        return False
    return secrets.compare_digest(base64.b64encode(computed).decode(), digest)


def generate_password() -> str:
    """A random password (24 URL-safe characters, 144 bits)."""
    return secrets.token_urlsafe(18)


def set_password(passwd_file: Path, username: str, password: str) -> bool:
    """Add ``username`` to the file or replace its password; True when it was replaced.

    The file is rewritten atomically with its owner and mode kept (0600 for a new file).
    """
    _check_username(username)
    entries = read_entries(passwd_file)
    replaced = username in entries
    entries[username] = password_hash(password)
    _write_entries(passwd_file, entries)
    return replaced


def set_passwords(passwd_file: Path, usernames: list[str], password: str) -> list[str]:
    """``set_password`` for several accounts in one rewrite of the file (each with its own
    salt); the names that were replaced."""
    for username in usernames:
        _check_username(username)
    entries = read_entries(passwd_file)
    replaced = [username for username in usernames if username in entries]
    for username in usernames:
        entries[username] = password_hash(password)
    _write_entries(passwd_file, entries)
    return replaced


def remove_user(passwd_file: Path, username: str) -> bool:
    """Delete ``username``; False when it was not there."""
    entries = read_entries(passwd_file)
    if entries.pop(username, None) is None:
        return False
    _write_entries(passwd_file, entries)
    return True


def read_entries(passwd_file: Path) -> dict[str, str]:
    """username → hash, in file order; an absent file is empty."""
    try:
        text = passwd_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AccountError(f"{passwd_file}: cannot read: {exc.strerror}") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep:
            raise AccountError(f"{passwd_file}: line {number}: not a 'user:hash' entry")
        entries[user] = hashed
    return entries


def _check_username(username: str) -> None:
    if not _AGENT_ID.match(username):
        raise AccountError(
            f"{username!r} is not a valid account name (letters, digits, '.', '_', '-'; "
            "an agent's account name is its agent id)"
        )


def _write_entries(passwd_file: Path, entries: dict[str, str]) -> None:
    text = "".join(f"{user}:{hashed}\n" for user, hashed in entries.items())
    folder = passwd_file.parent
    try:
        previous = passwd_file.stat()
    except FileNotFoundError:
        previous = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{passwd_file.name}.", dir=folder)
    except OSError as exc:
        raise AccountError(f"{passwd_file}: cannot write in {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, previous.st_mode & 0o777 if previous else 0o600)
        if previous is not None and hasattr(os, "chown"):
            with contextlib.suppress(PermissionError):  # mosquitto must still read it
                os.chown(tmp, previous.st_uid, previous.st_gid)
        os.replace(tmp, passwd_file)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise AccountError(f"{passwd_file}: cannot write: {exc.strerror}") from None
