"""Counters become per-second rates between cycles; never a negative or a made-up value."""

from __future__ import annotations

from roomwatch.agent.host.base import CounterRates, rows_from_rates


def test_the_first_sight_of_a_counter_gives_no_rate() -> None:
    assert CounterRates().update({("eth0", "in_bytes_per_s"): 1000.0}, now_s=10.0) == {}


def test_a_counter_becomes_a_rate_per_second() -> None:
    rates = CounterRates()
    rates.update({("eth0", "in_bytes_per_s"): 1000.0}, now_s=10.0)

    assert rates.update({("eth0", "in_bytes_per_s"): 5000.0}, now_s=12.0) == {
        ("eth0", "in_bytes_per_s"): 2000.0
    }


def test_a_counter_reset_gives_no_value_then_rates_resume() -> None:
    rates = CounterRates()
    rates.update({("eth0", "in_bytes_per_s"): 9000.0}, now_s=1.0)

    assert rates.update({("eth0", "in_bytes_per_s"): 100.0}, now_s=2.0) == {}
    assert rates.update({("eth0", "in_bytes_per_s"): 400.0}, now_s=3.0) == {
        ("eth0", "in_bytes_per_s"): 300.0
    }


def test_no_rate_when_the_clock_did_not_advance() -> None:
    rates = CounterRates()
    rates.update({("sda", "read_bytes_per_s"): 1.0}, now_s=5.0)

    assert rates.update({("sda", "read_bytes_per_s"): 2.0}, now_s=5.0) == {}


def test_a_vanished_row_is_forgotten() -> None:
    rates = CounterRates()
    rates.update({("usb0", "in_bytes_per_s"): 100.0}, now_s=1.0)
    rates.update({}, now_s=2.0)  # unplugged

    assert rates.update({("usb0", "in_bytes_per_s"): 700.0}, now_s=3.0) == {}


def test_rates_group_into_one_row_per_name() -> None:
    found = rows_from_rates(
        {
            ("eth1", "in_bytes_per_s"): 1.0,
            ("eth0", "in_bytes_per_s"): 2.0,
            ("eth0", "drops_per_s"): 0.0,
        },
        label="nic",
    )

    assert [(r.labels, r.metrics) for r in found] == [
        ({"nic": "eth0"}, {"in_bytes_per_s": 2.0, "drops_per_s": 0.0}),
        ({"nic": "eth1"}, {"in_bytes_per_s": 1.0}),
    ]
