"""The recording software down: L3 between classes, raised to L1 when a class is scheduled
(the service plan's "recording service not running when a class is scheduled"), with the L1
clocks counting from the moment the class needs the recorder."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import ServiceHooks
from tests.collector.scenario_support import INVENTORY, T0, Scenario, host
from tests.collector.sla_support import load_shipped

# T0 is Monday 09:00 in Shanghai: between the first and the second period.
TIMETABLE = {"periods": ["08:00-08:45", "10:00-10:45"], "lead_min": 5}


@pytest.fixture
def school(database: Database, victoria) -> Scenario:
    inventory = copy.deepcopy(INVENTORY)
    inventory["sites"][0]["timetable"] = TIMETABLE
    load_shipped(database, T0)
    hooks = ServiceHooks(SlaService(clock=lambda: T0, notify=False))
    return Scenario(database, victoria.url, hooks=hooks, inventory=inventory)


def _recorder_faults(scenario: Scenario):
    return scenario.faults("recording_process_down")


def test_between_classes_it_is_l3_and_a_class_raises_it_to_l1(school: Scenario):
    school.run(minutes=2, host=host(recorder=False))
    [fault] = _recorder_faults(school)
    assert (fault.level, fault.status) == (3, "open")  # nothing is being lost yet

    school.advance(54 * 60)  # 09:56: the 10:00 period is 4 minutes away (lead 5 min)
    raised_at = school.clock.now
    school.send_room(host=host(recorder=False))
    [fault] = _recorder_faults(school)
    assert fault.level == 1 and fault.status == "open"
    [event] = [e for e in school.events_of(fault.id) if e.type == "level_changed"]
    assert (event.detail["from"], event.detail["to"], event.actor) == (3, 1, "roomwatch")
    assert "class" in event.detail["note"]
    with school.db.session() as session:
        clocks = {c.kind: c for c in SlaService(notify=False).clocks(session, fault.id)}
    # The L1 clocks count from when the class needed the recorder, not from 09:00.
    assert clocks["respond"].deadline_at == raised_at + timedelta(minutes=30)
    assert clocks["fix"].deadline_at == raised_at + timedelta(hours=8)

    school.advance(60 * 60)  # the class is over; the level stays what it became
    school.send_room(host=host(recorder=False))
    assert [f.level for f in _recorder_faults(school)] == [1]
    school.send_room()
    [fault] = _recorder_faults(school)
    assert fault.status == "resolved"


def test_in_class_it_opens_at_l1_at_once(school: Scenario):
    school.advance(56 * 60)  # 09:56
    school.run(minutes=1, host=host(recorder=False))
    [fault] = _recorder_faults(school)
    assert fault.level == 1
    assert not [e for e in school.events_of(fault.id) if e.type == "level_changed"]


def test_on_a_holiday_there_is_no_class(database: Database, victoria):
    inventory = copy.deepcopy(INVENTORY)
    inventory["sites"][0]["timetable"] = TIMETABLE
    national_day = T0.replace(month=10, day=1)  # Thursday 09:00, a public holiday
    scenario = Scenario(database, victoria.url, start=national_day, inventory=inventory)
    scenario.advance(56 * 60)  # 09:56 would be class time on a school day
    scenario.run(minutes=1, host=host(recorder=False))
    assert [f.level for f in _recorder_faults(scenario)] == [3]


def test_a_room_without_a_timetable_is_always_in_class(database: Database, victoria):
    scenario = Scenario(database, victoria.url)  # the plain inventory: no timetable
    scenario.run(minutes=1, host=host(recorder=False))
    assert [f.level for f in _recorder_faults(scenario)] == [1]
