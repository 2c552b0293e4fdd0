"""Continuity and outcome of the events a reader asks for, computed when first read.

The webhook's answer waits for nothing of this: an event is judged from its recorded
neighbours when it is first read, off the event loop, and the judgement is kept by the store.
`applied` stays open while no later event has decided it, so an open one is judged again at
every read and only a final one is kept as such: a reader never sees a stale value.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from logistis.collector.continuity import Continuity, Ops, Step, continuity, outcome
from logistis.collector.events import Event


@dataclass(frozen=True, slots=True)
class Judgement:
    continuity: Continuity | None
    unrecorded: Ops = field(default_factory=list)
    applied: bool | None = None
    settled: bool = False
    checked_until: int = 0  # the newest later event `applied` was judged with


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Ids of the recorded events of the same object that take part: before (newest first)
    and after (oldest first)."""

    before: tuple[int, ...]
    after: tuple[int, ...]


class JudgementStore(Protocol):
    """What judging needs of a store (each backend implements it with its own SQL)."""

    async def judgements(self, ids: Sequence[int]) -> dict[int, Judgement]: ...

    async def neighbours(
        self, ids: Sequence[int], *, before: bool = True
    ) -> dict[int, Neighbours]: ...

    async def steps(self, ids: Iterable[int]) -> dict[int, Step]: ...

    async def keep_judgements(self, judgements: dict[int, Judgement]) -> None: ...


class Judge:
    """Judges events for one store, remembering the latest judgements in memory as well: the
    live stream reads each new event once per follower position, and its reads do not keep
    what they judge in the store (that would add a commit to each, beside admission's)."""

    def __init__(self, store: JudgementStore, capacity: int = 10_000) -> None:
        self._store = store
        self._capacity = capacity
        self._recent: OrderedDict[int, Judgement] = OrderedDict()

    async def __call__(self, events: Sequence[Event], *, keep: bool = True) -> None:
        """Fill in the continuity and outcome of the events (`keep`: in the store too)."""
        if not events:
            return
        ids = [event.id for event in events]
        known = {i: self._recent[i] for i in ids if i in self._recent}
        missing = [i for i in ids if i not in known]
        if missing:
            known.update(await self._store.judgements(missing))
        open_ids = [i for i in ids if i not in known or not known[i].settled]
        if open_ids:
            found = await _judge(self._store, open_ids, known, keep)
            known.update(found)
        for event in events:
            judged = known.get(event.id, Judgement(None))
            self._remember(event.id, judged)
            event.continuity = judged.continuity
            event.unrecorded_changes = judged.unrecorded
            event.applied = judged.applied

    def _remember(self, event_id: int, judged: Judgement) -> None:
        self._recent[event_id] = judged
        self._recent.move_to_end(event_id)
        while len(self._recent) > self._capacity:
            self._recent.popitem(last=False)


async def _judge(
    store: JudgementStore, ids: list[int], known: dict[int, Judgement], keep: bool
) -> dict[int, Judgement]:
    fresh = [i for i in ids if i not in known]
    neighbours = await store.neighbours(fresh) if fresh else {}
    # An event already judged needs only what follows it; while nothing new does, its outcome
    # stays open and no object needs reading (the newest event of every object, at each read).
    judged = [i for i in ids if i in known]
    following = await store.neighbours(judged, before=False) if judged else {}
    neighbours.update(
        (i, near)
        for i, near in following.items()
        if near.after and near.after[-1] > known[i].checked_until
    )
    if not neighbours:
        return {}
    wanted = set(neighbours)
    for near in neighbours.values():
        wanted.update(near.before, near.after)
    steps = await store.steps(wanted)
    found = await asyncio.to_thread(_judge_all, list(neighbours), known, neighbours, steps)
    if found and keep:
        await store.keep_judgements(found)
    return found


def _judge_all(
    ids: list[int],
    known: dict[int, Judgement],
    neighbours: dict[int, Neighbours],
    steps: dict[int, Step],
) -> dict[int, Judgement]:
    found = {}
    for i in ids:
        if i not in steps:
            continue  # removed by retention since it was listed
        current, near = steps[i], neighbours[i]
        if i in known:
            mark, ops = known[i].continuity, known[i].unrecorded
        else:
            mark, ops = continuity(current, [steps[n] for n in near.before if n in steps])
        result = outcome(current, [steps[n] for n in near.after if n in steps])
        found[i] = Judgement(mark, ops, result.applied, result.final, max(near.after, default=0))
    return found
