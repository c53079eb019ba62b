"""The one shape of background work: passes, wake-ups, backoff, a clean stop, the role."""

from __future__ import annotations

import asyncio

import pytest

from shared.runtime import Role, role_of
from shared.worker import Worker
from tests.harness import wait_for


class Job:
    name = "test-job"

    def __init__(self, *, interval: float = 3600.0) -> None:
        self.interval = interval
        self.outcomes: list[bool | Exception] = []
        self.ran = 0
        self.release = asyncio.Event()
        self.release.set()
        self.finished = 0

    async def run_once(self) -> bool:
        self.ran += 1
        await self.release.wait()
        self.finished += 1
        outcome = self.outcomes.pop(0) if self.outcomes else False
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def test_more_work_runs_at_once_and_an_idle_worker_waits_for_a_wake() -> None:
    job = Job()
    job.outcomes = [True, True, False]  # two full batches, then nothing left
    worker = Worker(job)
    worker.start()
    try:
        await wait_for(lambda: job.ran == 3)
        await asyncio.sleep(0.2)
        assert job.ran == 3  # idle: the next pass is an hour away
        worker.wake()
        await wait_for(lambda: job.ran == 4)
    finally:
        await worker.stop()


async def test_failing_passes_back_off_and_a_success_resets_it() -> None:
    worker = Worker(Job(interval=0.1), backoff_cap=30)
    assert worker.delay(0) == 0.1
    assert [worker.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert worker.delay(50) == 30
    # Never sooner than the interval: an hourly job that fails waits an hour too.
    assert Worker(Job(interval=3600)).delay(3) == 3600

    job = Job(interval=0.01)
    job.outcomes = [RuntimeError("database away"), True, False]
    worker = Worker(job)
    worker.start()
    try:
        # The failure did not end the worker: the passes after it ran.
        await wait_for(lambda: job.ran >= 3 and not job.outcomes, timeout=10)
    finally:
        await worker.stop()


async def test_stop_lets_the_pass_in_hand_finish_and_cancels_only_past_the_grace() -> None:
    job = Job()
    job.release.clear()
    worker = Worker(job)
    worker.start()
    await wait_for(lambda: job.ran == 1)
    stopping = asyncio.create_task(worker.stop(grace=10))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waiting for the pass
    job.release.set()
    await stopping
    assert (job.ran, job.finished) == (1, 1)

    stuck = Job()
    stuck.release.clear()
    worker = Worker(stuck)
    worker.start()
    await wait_for(lambda: stuck.ran == 1)
    await worker.stop(grace=0.05)
    assert stuck.finished == 0  # cancelled past the grace


def test_the_role_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIXUN_LEDGER_ROLE", raising=False)
    assert role_of("ledger") is Role.ALL
    monkeypatch.setenv("SHIXUN_LEDGER_ROLE", "Worker")
    assert role_of("ledger") is Role.WORKER and role_of("ledger").runs_background
    monkeypatch.setenv("SHIXUN_LEDGER_ROLE", "web")
    assert not role_of("ledger").runs_background
    monkeypatch.setenv("SHIXUN_LEDGER_ROLE", "both")
    with pytest.raises(ValueError, match="SHIXUN_LEDGER_ROLE"):
        role_of("ledger")
