"""Policies as data: the shipped values, strict validation with errors naming file and key,
loading into SQL (the shipped file never overwrites an admin's edit; a site file wins for
what it names), and the examples of docs/sla.md, which must stay valid."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from roomwatch.agent.errors import ConfigError
from roomwatch.collector.db import sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.durations import Span, parse_span
from roomwatch.collector.sla.errors import PolicyError
from roomwatch.collector.sla.policies import (
    PolicyDoc,
    PolicyFile,
    load_policy_file,
    shipped_policies,
)
from roomwatch.collector.sla.runtime import SlaConfig, load_sla_data
from tests.collector.conftest import T0

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sla.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def test_the_shipped_7x24_policy_is_the_service_plan():
    policy = {p.id: p for p in shipped_policies().policies}["7x24"]
    l1 = policy.deadlines(1)
    assert (l1["respond"].within, l1["on_site"].within, l1["fix"].within) == (
        Span(30, "minutes"),
        Span(2, "hours"),
        Span(8, "hours"),
    )
    assert policy.deadlines(3)["fix"].within == Span(3, "days", "working")
    assert policy.working_hours.working_day_s == 9 * 3600
    assert policy.escalation.chain() == [
        "engineer_on_duty",
        "project_lead",
        "senior_engineer",
        "management",
    ]
    assert shipped_policies().default_policy == "7x24"


def test_the_shipped_contract_policy_is_24h_48h_and_3_working_days_to_replace():
    policy = {p.id: p for p in shipped_policies().policies}["contract"]
    for level in (1, 2, 3):
        deadlines = policy.deadlines(level)
        assert deadlines["respond"].within == Span(24, "hours")
        assert deadlines["fix"].within == Span(48, "hours")
        assert deadlines["replace"].within == Span(3, "days", "working")
        assert deadlines["replace"].starts == "fix_breached"
        assert "on_site" not in deadlines
    assert "replace" not in policy.deadlines(4)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30m", Span(30, "minutes")),
        ("2 h", Span(2, "hours")),
        ("1.5h", Span(1.5, "hours")),
        ("4 working hours", Span(4, "hours", "working")),
        ("1 working day", Span(1, "days", "working")),
        ("90 working minutes", Span(90, "minutes", "working")),
    ],
)
def test_durations_as_people_write_them(text, span):
    assert parse_span(text) == span
    assert parse_span(str(span)) == span


@pytest.mark.parametrize("text", ["", "eight hours", "3 weeks", "0h", "-1h", "working 3 days"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="duration"):
        parse_span(text)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sla.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "levels: {L1: {fix: eight hours}}",
            "policies.0.levels.L1.fix.within: Value error, not a duration",
        ),
        ("levels: {L1: {fix: 8h}}\n    colour: red", "policies.0.colour: unknown key"),
        ("levels: {L5: {fix: 8h}}", "policies.0.levels.L5"),
        (
            "levels: {L1: {replace: {within: 3 working days, starts: fix_breached}}}",
            "needs a fix deadline on L1",
        ),
        (
            "levels: {L1: {fix: 8h}}\n    escalation: {steps: [{role: boss, when: warning}]}",
            "a warning step needs 'before'",
        ),
        (
            "levels: {L1: {fix: 8h}}\n    working_hours: {hours: ['17:30-08:30']}",
            "must end after it starts",
        ),
    ],
)
def test_a_bad_policy_file_names_the_file_and_the_key(tmp_path, body, message):
    path = _write(tmp_path, f"policies:\n  - id: p\n    name: P\n    {body}\n")
    with pytest.raises(ConfigError) as failure:
        load_policy_file(path)
    assert str(path) in str(failure.value)
    assert message in str(failure.value)


def test_the_site_file_example_of_the_docs_is_valid_and_loads(placed_database: Database, tmp_path):
    site_file = _write(tmp_path, _yaml_blocks()[0])
    load_sla_data(placed_database, T0, [site_file])
    with placed_database.session() as session:
        policy = sla_store.get_policy(session, "school-b")
        assert policy is not None
        assert policy.working_hours.working_day_s == 8 * 3600
        assert sla_store.site_policy_id(session, "s1") == "school-b"
        overrides = sla_store.calendar_overrides(session)
        assert overrides[date(2026, 6, 22)].working is False
        assert {c.name for c in sla_store.list_contacts(session)} == {
            "Wang Wei",
            "Li Na",
            "Zhao Lei",
            "Chen Jie",
        }
        assert sla_store.default_policy_id(session) == "7x24"
    # Loading again (the next start) changes nothing and duplicates nothing.
    load_sla_data(placed_database, T0, [site_file])
    with placed_database.session() as session:
        assert len(sla_store.list_contacts(session)) == 4


def test_the_config_example_of_the_docs_is_valid():
    config = SlaConfig.model_validate(yaml.safe_load(_yaml_blocks()[1])["sla"])
    channels = config.notify.channels()
    assert sorted(channels) == ["email", "ops", "wecom-ops"]
    assert "..." not in repr(config.notify.email)  # the password is a SecretStr


def test_the_shipped_file_never_overwrites_an_admins_edit(placed_database: Database):
    load_sla_data(placed_database, T0, [])
    edited = shipped_policies().policies[0].model_copy(update={"name": "7x24 as agreed"})
    with placed_database.session() as session:
        sla_store.put_policy(session, edited, T0, "admin", "api")
        sla_store.set_default_policy(session, "contract")
    load_sla_data(placed_database, T0 + timedelta(days=1), [])
    with placed_database.session() as session:
        policy = sla_store.get_policy(session, "7x24")
        assert policy is not None and policy.name == "7x24 as agreed"
        assert sla_store.default_policy_id(session) == "contract"


def test_a_policy_round_trips_through_sql(placed_database: Database):
    load_sla_data(placed_database, T0, [])
    with placed_database.session() as session:
        for shipped in shipped_policies().policies:
            assert sla_store.get_policy(session, shipped.id) == shipped


def test_a_policy_in_use_cannot_be_deleted(placed_database: Database):
    load_sla_data(placed_database, T0, [])
    with placed_database.session() as session:
        with pytest.raises(PolicyError, match="default policy"):
            sla_store.delete_policy(session, "7x24")
        sla_store.set_site_policy(session, "s1", "contract", "", T0, "admin")
        with pytest.raises(PolicyError, match="used by sites: s1"):
            sla_store.delete_policy(session, "contract")
        with pytest.raises(PolicyError, match="no site"):
            sla_store.set_site_policy(session, "nowhere", "contract", "", T0, "admin")


def test_a_site_file_naming_an_unknown_site_is_skipped_with_a_warning(
    placed_database: Database, tmp_path, caplog
):
    path = _write(tmp_path, "sites:\n  - {site: s9, policy: contract}\n")
    load_sla_data(placed_database, T0, [path])
    assert "s9: not in the inventory" in caplog.text


def test_policy_documents_are_the_api_bodies():
    doc = shipped_policies().policies[1]
    assert PolicyDoc.model_validate(doc.model_dump(mode="json")) == doc
    assert PolicyFile.model_validate({"policies": [doc.model_dump(mode="json")]})
