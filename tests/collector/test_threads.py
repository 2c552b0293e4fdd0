"""The collector's threads: a PassThread runs a coroutine whole in its thread, where what it
computes runs in place; elsewhere `computed` keeps the work off the event loop's thread."""

from __future__ import annotations

import threading

from logistis.collector.threads import PassThread, computed


def here() -> str:
    return threading.current_thread().name


async def test_computing_leaves_the_event_loop_thread():
    assert await computed(here) != here()


async def test_a_pass_thread_runs_a_coroutine_whole_and_computes_in_place():
    thread = PassThread("deriver")

    async def work() -> tuple[str, str]:
        return here(), await computed(here)

    try:
        ran, computed_in = await thread.run(work)
        assert ran.startswith("deriver")
        assert computed_in == ran
        assert await thread.call(here) == ran
        # The loop it keeps is the same from one run to the next.
        assert await thread.run(work) == (ran, ran)
    finally:
        thread.shutdown()
    thread.shutdown()  # again: nothing more
