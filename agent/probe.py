"""``roomwatch probe``: what an installer runs on site to see what roomwatch makes of a device.

It walks the device once over SNMP and prints which profile matches and why, the identity,
every metric and table row it would publish, and what the profile asks for that the device
did not answer; ``--ping``, ``--tcp``, ``--http`` and ``--rtsp`` try the paths that need no
SNMP. ``--snmprec FILE`` does the same against a recording served by a local simulator, so
a profile can be written and tested from a recording of a device we do not know yet.

Exit status: 0 when the device answered (SNMP or any check), 1 when it did not, 2 for a
usage error. Secrets (SNMPv3 keys, RTSP passwords) come from the environment or a prompt and
are never printed; a URL is shown without its user and password.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from roomwatch.agent.checks import DeviceChecker, redact_url
from roomwatch.agent.checks.base import CheckResult
from roomwatch.agent.config import DeviceConfig, SnmpConfig, SnmpCredential
from roomwatch.agent.errors import AgentError
from roomwatch.agent.probe_report import SnmpReport, explain_choice, print_report

EXIT_ANSWERED, EXIT_SILENT, EXIT_USAGE = 0, 1, 2
ENV_COMMUNITY = "ROOMWATCH_SNMP_COMMUNITY"
ENV_AUTH_KEY = "ROOMWATCH_SNMP_AUTH_KEY"
ENV_PRIV_KEY = "ROOMWATCH_SNMP_PRIV_KEY"
ENV_RTSP_PASSWORD = "ROOMWATCH_RTSP_PASSWORD"
DEVICE_ID = "probe"


class UsageError(AgentError):
    """The command line asks for something that cannot be done."""


def add_probe_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``roomwatch probe`` on the ``roomwatch`` command."""
    p = sub.add_parser(
        "probe",
        help="poll one device once and show what roomwatch would publish for it",
        description="Poll one device once and show the profile chosen and why, every value "
        "roomwatch would publish, and what the profile asks for that the device did not answer.",
    )
    p.add_argument("address", nargs="?", help="host name or IP address of the device")
    p.add_argument("--port", type=int, default=161, help="SNMP port (default 161)")
    p.add_argument("--kind", default="camera", help="camera, encoder, switch, ups, nas, host ...")
    p.add_argument("--profile", help="use this profile instead of choosing one")
    p.add_argument(
        "--profiles-dir",
        type=Path,
        action="append",
        default=[],
        help="extra profile folder, searched before the built-ins (repeatable)",
    )
    p.add_argument("--snmprec", type=Path, help="probe a recording (.snmprec) instead")
    p.add_argument("--no-snmp", action="store_true", help="only the checks below")
    p.add_argument("--community", help=f"SNMP v2c community (default: ${ENV_COMMUNITY} or public)")
    p.add_argument("--v3-user", help=f"SNMPv3 user; keys from ${ENV_AUTH_KEY} / "
                   f"${ENV_PRIV_KEY} or a prompt")  # fmt: skip
    p.add_argument("--auth-protocol", default="sha", help="v3: md5, sha, sha256 ... (default sha)")
    p.add_argument("--priv-protocol", default="aes", help="v3: des, aes, aes256 ... (default aes)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request (default 2)")
    p.add_argument("--ping", action="store_true", help="ICMP echo (TCP connect if not allowed)")
    p.add_argument("--tcp", type=int, action="append", default=[], metavar="PORT",
                   help="TCP connect to this port (repeatable)")  # fmt: skip
    p.add_argument("--http", action="append", default=[], metavar="URL",
                   help="HTTP(S) GET of this URL (repeatable)")  # fmt: skip
    p.add_argument("--rtsp", action="append", default=[], metavar="URL",
                   help=f"stream URL; user from the URL or --rtsp-user, password from "
                   f"${ENV_RTSP_PASSWORD} or a prompt")  # fmt: skip
    p.add_argument("--rtsp-user", help="RTSP user (default: the URL's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run_probe(args: argparse.Namespace) -> int:
    """Run ``roomwatch probe`` with parsed ``args``; returns the exit status."""
    # The report says what failed; the poller's own "not answering" lines would repeat it.
    logging.basicConfig(level=logging.ERROR, format="roomwatch probe: %(message)s")
    try:
        plan = _plan(args)
        return asyncio.run(_probe(plan, args))
    except UsageError as exc:
        print(f"roomwatch probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AgentError as exc:  # a profile folder or recording that cannot be used
        print(f"roomwatch probe: {exc}", file=sys.stderr)
        return EXIT_USAGE


class _Plan:
    def __init__(self, device: DeviceConfig, credential: SnmpCredential | None) -> None:
        self.device, self.credential = device, credential


def _plan(args: argparse.Namespace) -> _Plan:
    if args.snmprec is None and not args.address:
        raise UsageError("give the device's ADDRESS, or --snmprec FILE")
    if args.snmprec is not None and args.address:
        raise UsageError("give either ADDRESS or --snmprec FILE, not both")
    if args.no_snmp and not (args.ping or args.tcp or args.http or args.rtsp):
        raise UsageError("--no-snmp needs a check: --ping, --tcp, --http or --rtsp")
    checks = _checks(args)
    device = _device(args, checks)
    credential = None if args.no_snmp else _credential(args)
    return _Plan(device, credential)


def _device(args: argparse.Namespace, checks: dict[str, Any]) -> DeviceConfig:
    data: dict[str, Any] = {
        "id": DEVICE_ID,
        "kind": args.kind,
        "address": args.address or "127.0.0.1",
        "snmp": not args.no_snmp,
        "checks": checks or None,
    }
    if not args.no_snmp:
        data.update(port=args.port, profile=args.profile, timeout_s=args.timeout,
                    credentials=DEVICE_ID)  # fmt: skip
    try:
        return DeviceConfig.model_validate(data)
    except ValueError as exc:
        raise UsageError(_first_error(exc)) from None


def _checks(args: argparse.Namespace) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    if args.ping:
        checks["ping"] = {"timeout_s": args.timeout}
    if args.tcp:
        checks["tcp"] = [{"port": port, "timeout_s": args.timeout} for port in args.tcp]
    if args.http:
        checks["http"] = [{"url": url, "timeout_s": args.timeout} for url in args.http]
    if args.rtsp:
        checks["rtsp"] = [_rtsp_check(url, args) for url in args.rtsp]
    return checks


def _rtsp_check(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The URL without user info; the user and password as the check's own keys."""
    parts = urlsplit(url)
    if "@" in parts.path + parts.query + parts.fragment:
        # A "/", "?" or "#" in the password ended the host part early: urlsplit found no
        # user and would hand part of the password on as the host and port.
        raise UsageError(
            "an --rtsp URL whose user or password holds '/', '?' or '#' cannot be read: "
            f"give --rtsp-user and the password in ${ENV_RTSP_PASSWORD}"
        )
    user = args.rtsp_user or parts.username
    password = parts.password or os.environ.get(ENV_RTSP_PASSWORD)
    if user and password is None:
        password = _prompt(f"RTSP password for {user}: ")
    check: dict[str, Any] = {"url": redact_url(url), "timeout_s": args.timeout}
    if user:
        check.update(username=user, password=password)
    return check


def _credential(args: argparse.Namespace) -> SnmpCredential:
    if args.snmprec is not None:
        from roomwatch.agent.snmp.recording import RecordingServer

        return SnmpCredential(community=RecordingServer.community(args.snmprec))  # type: ignore[arg-type]
    if args.v3_user is None:
        community = args.community or os.environ.get(ENV_COMMUNITY) or "public"
        return SnmpCredential(community=community)  # type: ignore[arg-type]
    if args.community:
        raise UsageError("--community is for v2c; SNMPv3 (--v3-user) uses keys")
    auth = os.environ.get(ENV_AUTH_KEY) or _prompt(f"auth key for {args.v3_user} (empty: none): ")
    priv = (os.environ.get(ENV_PRIV_KEY) or _prompt("priv key (empty: none): ")) if auth else ""
    data: dict[str, Any] = {"version": "v3", "username": args.v3_user}
    if auth:
        data.update(auth_key=auth, auth_protocol=args.auth_protocol)
    if priv:
        data.update(priv_key=priv, priv_protocol=args.priv_protocol)
    try:
        return SnmpCredential.model_validate(data)
    except ValueError as exc:
        raise UsageError(_first_error(exc)) from None


def _prompt(question: str) -> str:
    if not sys.stdin.isatty():
        return ""
    return getpass.getpass(question)  # never echoed


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


async def _probe(plan: _Plan, args: argparse.Namespace) -> int:
    device = plan.device
    snmp_report: SnmpReport | None = None
    if plan.credential is not None:
        if args.snmprec is not None:
            from roomwatch.agent.snmp.recording import RecordingServer

            with RecordingServer([args.snmprec]) as server:
                device = device.model_copy(update={"port": server.port})
                snmp_report = await _walk(device, plan.credential, args)
        else:
            snmp_report = await _walk(device, plan.credential, args)
    results = await DeviceChecker([device]).run_checks(device)
    answered = bool(snmp_report and snmp_report.answered) or any(r.reached for r in results)
    shown = str(args.snmprec) if args.snmprec is not None else device.address
    if args.json:
        print(json.dumps(_as_json(shown, device.kind, answered, snmp_report, results), indent=2))
    else:
        print_report(shown, device.kind, answered, snmp_report, results)
    return EXIT_ANSWERED if answered else EXIT_SILENT


async def _walk(
    device: DeviceConfig, credential: SnmpCredential, args: argparse.Namespace
) -> SnmpReport:
    from roomwatch.agent.snmp.poller import SnmpPoller
    from roomwatch.agent.snmp.profile import ProfileRegistry

    registry = ProfileRegistry.load(args.profiles_dir)
    config = SnmpConfig(credentials={DEVICE_ID: credential}, timeout_s=args.timeout, retries=1)
    poller = SnmpPoller(config, [device], registry)
    try:
        [sample] = await poller.poll_all()
        identity = poller.identity_of(DEVICE_ID)
    finally:
        poller.close()
    why = explain_choice(identity, device.kind, named=device.profile is not None)
    return SnmpReport(sample=sample, identity=identity, why=why)


def _as_json(
    address: str, kind: str, answered: bool, snmp: SnmpReport | None, results: list[CheckResult]
) -> dict[str, Any]:
    return {
        "address": address,
        "kind": kind,
        "answered": answered,
        "snmp": snmp.as_dict() if snmp is not None else None,
        "checks": [asdict(r) for r in results],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m roomwatch.agent.probe ...``: the same as ``roomwatch probe ...``."""
    parser = argparse.ArgumentParser(prog="roomwatch")
    add_probe_parser(parser.add_subparsers(dest="command", required=True))
    return run_probe(parser.parse_args(["probe", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
