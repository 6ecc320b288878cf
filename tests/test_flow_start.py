"""A pass that knows it has work starts Great Expectations while its first group is read
(runner.flow.validate_and_load's ``start_validator``), and one with nothing to do starts nothing."""

from __future__ import annotations

import threading

import pytest

from alliance_finance.runner.clock import StageClock
from alliance_finance.runner.flow import validate_and_load


class _Validator:
    def __init__(self, started: threading.Event, fail: bool = False):
        self.started, self.fail = started, fail

    def start(self) -> None:
        if self.fail:
            raise RuntimeError("Great Expectations could not start")
        self.started.set()


def test_the_validator_starts_while_the_first_group_is_read():
    started, made = threading.Event(), []

    def groups():  # the reading thread: its first group is ready only once the validator has started
        assert started.wait(30), "the validator was not started while the first group was being read"
        yield from ()

    def make():
        made.append(_Validator(started))
        return made[-1]

    clock = StageClock()
    assert validate_and_load(None, groups(), make, clock=clock, start_validator=True) == []
    assert len(made) == 1 and started.is_set()
    assert "gx_start" in clock.seconds


def test_without_work_known_no_validator_is_made():
    made = []
    assert validate_and_load(None, iter(()), lambda: made.append(1)) == []
    assert made == []


def test_a_validator_that_cannot_start_fails_the_pass_and_stops_the_reading():
    def groups():
        for _ in range(1000):
            yield []  # a reader that would go on: closed when the start fails

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="could not start"):
        validate_and_load(None, groups(), lambda: _Validator(threading.Event(), fail=True), start_validator=True)
    assert threading.active_count() == before  # the reading thread has ended
