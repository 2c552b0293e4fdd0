"""Continuity and outcome of recorded events: judged by the deriver after the commit, kept by
the store, and computed on demand for an event a reader reaches first.

The webhook's answer waits for nothing of this. The deriver judges each event it reaches from
its recorded neighbours, and judges again the outcome of the events before it that were still
open (`applied` stays open while no later event has decided it). Judgements are kept only when
they differ from the usual one (`USUAL`: continuous, applied, final), so most events cost no
row: an event the deriver has passed without a row is one of those. A reader meets three cases:
an event the deriver has passed reads its kept judgement; an open one is judged again only if
events came after the deriver's mark; an event beyond the mark, or older than the deriver's
judging (`judged_from`), is judged on demand, never left empty, and never kept by a reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from logistis.collector.history.continuity import Continuity, Ops, Step, continuity, outcome
from logistis.collector.history.events import Event
from logistis.collector.threads import computed

if TYPE_CHECKING:
    from logistis.collector.history.runs import Run


@dataclass(frozen=True, slots=True)
class Judgement:
    continuity: Continuity | None
    unrecorded: Ops = field(default_factory=list)
    applied: bool | None = None
    settled: bool = False
    checked_until: int = 0  # the newest later event `applied` was judged with

    @property
    def usual(self) -> bool:
        """Whether the store keeps no row for it (see `USUAL`)."""
        return (
            self.continuity == "continuous"
            and not self.unrecorded
            and self.applied is True
            and self.settled
        )


# Most events: what the previous one left, and landed. Not kept as a row.
USUAL = Judgement("continuous", [], True, settled=True)


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Ids of the recorded events of the same object that take part: before (newest first)
    and after (oldest first)."""

    before: tuple[int, ...]
    after: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Judged:
    """Kept judgements of some events, and how far the deriver's judging reaches: every event
    from `judged_from` up to `derived_up_to` is judged with every event up to that mark (no
    row: `USUAL`); `newest` is the newest committed event when this was read."""

    kept: dict[int, Judgement]
    judged_from: int
    derived_up_to: int
    newest: int

    def of(self, event_id: int) -> Judgement | None:
        """The judgement that stands for this event, or None when it must be judged now."""
        if self.judged_from <= event_id <= self.derived_up_to:
            judged = self.kept.get(event_id, USUAL)
            # Open, and events came after the mark: one of them may decide it.
            if judged.settled or self.newest <= self.derived_up_to:
                return judged
            return None
        # Beyond the deriver, or before its judging began: only what a reader kept as final.
        final = self.kept.get(event_id)
        return final if final is not None and final.settled else None


class JudgementStore(Protocol):
    """What judging needs of a store (each backend implements it with its own SQL)."""

    async def judgements(self, ids: Sequence[int]) -> Judged:
        """The kept judgements of these events, and how far the deriver's judging reaches."""
        ...

    async def neighbours(self, ids: Sequence[int]) -> dict[int, Neighbours]:
        """Each event's recorded neighbours that take part, before and after it."""
        ...

    async def steps(self, ids: Iterable[int]) -> dict[int, Step]:
        """The events as continuity compares them: operation, subresource, objects."""
        ...

    async def runs(self) -> list[Run]:
        """Every collector run's heartbeats."""
        ...


async def fill_in(store: JudgementStore, events: Sequence[Event]) -> None:
    """Fill in the continuity and outcome of events being read: kept ones as kept, the others
    judged now (and not kept: that is the deriver's)."""
    if not events:
        return
    judged = await store.judgements([event.id for event in events])
    found: dict[int, Judgement] = {}
    missing: list[int] = []
    for event in events:
        standing = judged.of(event.id)
        if standing is None:
            missing.append(event.id)
        else:
            found[event.id] = standing
    if missing:
        # An open kept judgement needs only what follows it; a new one everything.
        known = {i: judged.kept[i] for i in missing if i in judged.kept}
        found.update(known)
        found.update(await _judge(store, missing, known, {}))
    for event in events:
        standing = found.get(event.id, Judgement(None))
        event.continuity = standing.continuity
        event.unrecorded_changes = standing.unrecorded
        event.applied = standing.applied


async def judge_committed(
    store: JudgementStore, batch: Sequence[int], steps: Mapping[int, Step], derived_up_to: int
) -> dict[int, Judgement]:
    """The deriver's judgements of newly committed events, and the outcomes they decide among
    the events before them (derived already, up to the mark). `steps` holds the events'
    decoded steps, and any others in hand; the rest are read."""
    if not batch:
        return {}
    neighbours = await store.neighbours(batch)
    earlier = {n for near in neighbours.values() for n in near.before if n <= derived_up_to}
    kept = (await store.judgements(sorted(earlier))).kept if earlier else {}
    # Earlier events without a row are settled (USUAL); open ones look at what follows them.
    reopened = {i: kept[i] for i in earlier if i in kept and not kept[i].settled}
    return await _judge(store, [*batch, *reopened], reopened, steps, neighbours)


async def _judge(
    store: JudgementStore,
    ids: list[int],
    known: dict[int, Judgement],
    steps_in_hand: Mapping[int, Step],
    neighbours: dict[int, Neighbours] | None = None,
) -> dict[int, Judgement]:
    """Judge `ids`: continuity from the events before (unless `known`), outcome from those
    after and the rivals among those before. Steps in hand are not read again."""
    fresh = [i for i in ids if i not in known]
    if neighbours is None:
        neighbours = await store.neighbours(fresh) if fresh else {}
    # An event already judged needs its continuity no more, but its outcome may need the rivals
    # recorded before it; while nothing new follows it, the outcome stays as it is and no
    # object needs reading.
    judged = [i for i in ids if i in known]
    around = await store.neighbours(judged) if judged else {}
    neighbours.update(
        (i, near)
        for i, near in around.items()
        if near.after and near.after[-1] > known[i].checked_until
    )
    if not neighbours:
        return {}
    wanted = set(neighbours)
    for near in neighbours.values():
        wanted.update(near.before, near.after)
    steps = {i: steps_in_hand[i] for i in wanted if i in steps_in_hand}
    if unread := wanted.difference(steps):
        steps.update(await store.steps(unread))
    since = await _history_start(store, [neighbours[i] for i in fresh if i in neighbours])
    return await computed(_judge_all, list(neighbours), known, neighbours, steps, since)


async def _history_start(store: JudgementStore, fresh: Iterable[Neighbours]) -> int | None:
    """When recording began (the oldest collector run kept), for the events with nothing
    recorded before them: an object created since then had its creation go unrecorded."""
    if all(near.before for near in fresh):
        return None
    return min((run.started_ms for run in await store.runs()), default=None)


def _judge_all(
    ids: list[int],
    known: dict[int, Judgement],
    neighbours: dict[int, Neighbours],
    steps: dict[int, Step],
    history_start_ms: int | None,
) -> dict[int, Judgement]:
    found = {}
    for i in ids:
        if i not in steps:
            continue  # removed by retention since it was listed
        current, near = steps[i], neighbours[i]
        previous = [steps[n] for n in near.before if n in steps]
        if i in known:
            mark, ops = known[i].continuity, known[i].unrecorded
        else:
            mark, ops = continuity(current, previous, history_start_ms)
        result = outcome(current, [steps[n] for n in near.after if n in steps], previous)
        found[i] = Judgement(mark, ops, result.applied, result.final, max(near.after, default=0))
    return found
