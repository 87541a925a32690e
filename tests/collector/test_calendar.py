"""The business calendar on real 2025 and 2026 dates of mainland China: weekends, Golden
Week, Spring Festival, Labour Day and the 调休 make-up working days, to the minute.

The dates are the State Council's notices (国办发明电〔2024〕12号 for 2025, the notice of
4 Nov 2025 for 2026) as the ``holidays`` package carries them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomwatch.collector.sla.calendar import BusinessCalendar, Override
from roomwatch.collector.sla.durations import parse_span
from roomwatch.collector.sla.policies import WorkingHoursSpec

CST = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.fixture
def calendar() -> BusinessCalendar:
    """Mon–Fri 08:30–17:30 in Beijing time, the package's holidays, no overrides."""
    return BusinessCalendar(WorkingHoursSpec(), "Asia/Shanghai")


def _days_off(calendar: BusinessCalendar, first: date, last: date) -> list[date]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [d for d in days if not calendar.is_working_day(d)]


def test_national_day_2025_is_october_1_to_8_with_two_make_up_days(calendar):
    assert _days_off(calendar, date(2025, 9, 27), date(2025, 10, 12)) == [
        date(2025, 9, 27),  # Saturday
        *(date(2025, 10, d) for d in range(1, 9)),
        date(2025, 10, 12),  # Sunday
    ]
    assert calendar.day(date(2025, 9, 28)).reason == "make-up working day (调休)"  # Sunday
    assert calendar.day(date(2025, 10, 11)).working  # Saturday
    assert calendar.day(date(2025, 10, 1)).reason.startswith("holiday: ")


def test_spring_festival_2026_is_february_15_to_23_with_saturdays_14_and_28_worked(calendar):
    off = _days_off(calendar, date(2026, 2, 9), date(2026, 3, 1))
    assert off == [*(date(2026, 2, d) for d in range(15, 24)), date(2026, 3, 1)]
    assert calendar.is_working_day(date(2026, 2, 14))
    assert calendar.is_working_day(date(2026, 2, 28))
    assert not calendar.is_working_day(date(2026, 2, 21))  # an ordinary Saturday, in the break


def test_labour_day_2026_is_may_1_to_5_and_saturday_may_9_is_worked(calendar):
    assert _days_off(calendar, date(2026, 4, 30), date(2026, 5, 10)) == [
        *(date(2026, 5, d) for d in range(1, 6)),
        date(2026, 5, 10),
    ]
    assert calendar.is_working_day(date(2026, 5, 9))


def test_national_day_2026_and_its_make_up_days(calendar):
    assert _days_off(calendar, date(2026, 10, 1), date(2026, 10, 7)) == [
        date(2026, 10, d) for d in range(1, 8)
    ]
    assert calendar.is_working_day(date(2026, 9, 20))  # Sunday
    assert calendar.is_working_day(date(2026, 10, 10))  # Saturday


def test_working_time_skips_a_weekend(calendar):
    assert calendar.add_working_time(at(2025, 3, 7, 16, 30), 2 * H) == at(2025, 3, 10, 9, 30)
    assert calendar.working_time_between(at(2025, 3, 7, 16, 30), at(2025, 3, 10, 9, 30)) == 2 * H


def test_working_time_skips_golden_week_2025(calendar):
    # Tuesday 30 Sep 16:00: 1.5 h that day, then nothing until Thursday 9 Oct.
    assert calendar.add_working_time(at(2025, 9, 30, 16), 4 * H) == at(2025, 10, 9, 11)
    assert calendar.working_time_between(at(2025, 9, 30, 8, 30), at(2025, 10, 9, 8, 30)) == 9 * H


def test_working_time_runs_on_a_make_up_saturday(calendar):
    assert calendar.add_working_time(at(2025, 10, 10, 17), 1 * H) == at(2025, 10, 11, 9)
    assert calendar.working_time_between(at(2025, 10, 10, 8, 30), at(2025, 10, 13, 8, 30)) == (
        18 * H
    )


def test_working_time_runs_on_a_make_up_sunday(calendar):
    assert calendar.add_working_time(at(2025, 9, 27, 10), 1 * H) == at(2025, 9, 28, 9, 30)


def test_working_time_across_spring_festival_2026(calendar):
    # Saturday 14 Feb is worked; then the break until Tuesday 24 Feb.
    assert calendar.add_working_time(at(2026, 2, 14, 16), 4 * H) == at(2026, 2, 24, 11)
    assert calendar.add_working_time(at(2026, 2, 13, 15), 9 * H) == at(2026, 2, 14, 15)


def test_working_time_across_labour_day_2026(calendar):
    assert calendar.add_working_time(at(2026, 4, 30, 17), 1 * H) == at(2026, 5, 6, 9)


def test_a_deadline_at_the_end_of_the_day_is_that_end_not_the_next_morning(calendar):
    assert calendar.add_working_time(at(2025, 3, 3, 8, 30), 9 * H) == at(2025, 3, 3, 17, 30)


def test_time_outside_working_hours_starts_at_the_next_opening(calendar):
    assert calendar.add_working_time(at(2025, 3, 8, 12), timedelta(minutes=30)) == at(
        2025, 3, 10, 9
    )
    assert calendar.add_working_time(at(2025, 3, 3, 7), timedelta(0)) == at(2025, 3, 3, 7)


def test_a_lunch_break_is_not_working_time():
    hours = WorkingHoursSpec(hours=["08:30-12:00", "13:30-17:30"])
    calendar = BusinessCalendar(hours, "Asia/Shanghai")
    assert hours.working_day_s == 7.5 * 3600
    assert calendar.add_working_time(at(2025, 3, 3, 11, 30), 1 * H) == at(2025, 3, 3, 14)


def test_an_admin_override_wins_over_the_package():
    overrides = {
        date(2025, 10, 9): Override(False, "school closed for the sports day"),
        date(2025, 10, 4): Override(True, "on-call Saturday agreed with the customer"),
    }
    calendar = BusinessCalendar(WorkingHoursSpec(), "Asia/Shanghai", overrides=overrides)
    assert calendar.day(date(2025, 10, 9)).reason == "override: school closed for the sports day"
    # 30 Sep 1.5 h, Saturday 4 Oct 9 h (overridden to working) → 4 h end on 4 Oct at 11:00.
    assert calendar.add_working_time(at(2025, 9, 30, 16), 4 * H) == at(2025, 10, 4, 11)
    # With only 9 Oct off, 12 h from 30 Sep 16:00: 1.5 + 9 (4 Oct) + 1.5 on Friday 10 Oct.
    assert calendar.add_working_time(at(2025, 9, 30, 16), 12 * H) == at(2025, 10, 10, 10)


def test_the_site_time_zone_decides_the_working_hours():
    calendar = BusinessCalendar(WorkingHoursSpec(), "Europe/Berlin")
    start = datetime(2025, 3, 3, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    end = calendar.add_working_time(start, 2 * H)
    assert end == datetime(2025, 3, 4, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_working_days_are_days_of_working_hours(calendar):
    span = parse_span("3 working days")
    seconds = span.seconds(calendar.working_day_s)
    assert seconds == 27 * 3600
    # Friday 26 Sep 2025 10:00: 7.5 h Fri, Sun 28 (调休) 9 h, Mon 9 h, then 1.5 h on Tuesday.
    deadline = calendar.advance(at(2025, 9, 26, 10), seconds, "working")
    assert deadline == at(2025, 9, 30, 10)


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_time(datetime(2025, 3, 3, 9), H)
