"""``roomwatch collector --check`` reads every file the collector reads, names the file, the key
and what was expected, exits 2 — and creates no database (the real start does the same
check before it opens one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from roomwatch.collector.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _site(tmp_path: Path, **changes: object) -> Path:
    """The shipped examples in ``tmp_path`` with ``changes`` over the collector config;
    returns the config path. The database is a file in ``tmp_path`` that must not appear."""
    shutil.copy(EXAMPLES / "inventory.yaml", tmp_path / "inventory.yaml")
    config = yaml.safe_load((EXAMPLES / "collector.yaml").read_text(encoding="utf-8"))
    config["database"] = {"url": f"sqlite:///{tmp_path / 'collector.db'}"}
    config.update(changes)
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _check(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    status = main(["collector", "--config", str(config), *extra])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_valid_site_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _check(_site(tmp_path), capsys, "--check")
    assert status == 0, out
    assert "ok (3 rooms, 3 agents" in out
    assert not (tmp_path / "collector.db").exists()


def test_missing_inventory_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _site(tmp_path, inventory_file="inventroy.yaml")
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert f"{config}: inventory_file: file not found" in out
    assert str(tmp_path / "inventroy.yaml") in out
    # The real start stops at the same place, before creating the database.
    status, out = _check(config, capsys)
    assert status == 2 and "inventory_file: file not found" in out
    assert not (tmp_path / "collector.db").exists()


def test_misspelled_inventory_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _site(tmp_path)
    inventory = tmp_path / "inventory.yaml"
    text = inventory.read_text(encoding="utf-8")
    inventory.write_text(text.replace("    rooms:", "    roms:", 1), encoding="utf-8")
    status, out = _check(config, capsys)
    assert status == 2
    assert f"{inventory}: sites.0.roms: unknown key (expected one of:" in out
    assert "rooms" in out.split("roms", 1)[1]
    assert not (tmp_path / "collector.db").exists()


def test_bad_rule_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = _write(
        tmp_path / "site-rules.yaml",
        {"overrides": [{"id": "camera_no_video", "level": "L9"}]},
    )
    config = _site(tmp_path, faults={"rules_files": [rules.name]})
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert f"{rules}: overrides.0.level:" in out
    unknown = _write(tmp_path / "site-rules.yaml", {"overrides": [{"id": "no_such_rule"}]})
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert f"{unknown}: override of unknown rule 'no_such_rule'" in out
    assert not (tmp_path / "collector.db").exists()


def test_bad_sla_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = {"id": "gold", "name": "Gold", "levels": {"L1": {"respond": "30 parsecs"}}}
    sla = _write(tmp_path / "sla.yaml", {"policies": [policy]})
    config = _site(tmp_path, sla={"files": [sla.name]})
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert f"{sla}: policies.0.levels.L1.respond" in out
    assert not (tmp_path / "collector.db").exists()


def test_bad_notification_channel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contact = {"name": "Wang Wei", "role": "project_lead", "channels": ["wecom-ops"]}
    sla = _write(tmp_path / "sla.yaml", {"contacts": [contact]})
    webhook = {"url": "https://hooks.example.edu.cn/T0KEN", "format": "generic"}
    notify = {"webhooks": {"ops": webhook}}
    config = _site(tmp_path, sla={"files": [sla.name], "notify": notify})
    status, out = _check(config, capsys, "--check")
    assert status == 2
    # A generic webhook signs what it sends: without a secret it cannot.
    assert f"{config}: sla.notify: webhook ops: a generic webhook needs a secret" in out
    assert f"{sla}: contacts.0.channels.0: unknown channel 'wecom-ops'" in out
    assert "T0KEN" not in out  # the URL carries a token: never echoed
    assert not (tmp_path / "collector.db").exists()


def test_every_problem_is_listed_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _site(
        tmp_path,
        inventory_file="missing.yaml",
        timezone="Asia/Shanghia",
        faults={"rules_files": ["missing-rules.yaml"]},
    )
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert "inventory_file: file not found" in out
    assert "faults.rules_files.0: file not found" in out
    assert f"{config}: timezone: unknown time zone" in out
    assert "Traceback" not in out


def test_a_rule_title_with_attribute_access(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = {
        "id": "hot_camera", "level": 2, "title": "{device.name} is hot",
        "metric": "temperature_c", "when": {"op": ">", "value": 70},
    }  # fmt: skip
    rules = _write(tmp_path / "site-rules.yaml", {"rules": [rule]})
    config = _site(tmp_path, faults={"rules_files": [rules.name]})
    status, out = _check(config, capsys, "--check")
    assert status == 2
    assert f"{rules}: rules.0:" in out and "rule hot_camera: title field {device.name}" in out
    assert "Traceback" not in out
    assert not (tmp_path / "collector.db").exists()
