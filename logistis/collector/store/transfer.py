"""Copying a history from one store to another (`logistis-collector migrate-store`).

Events go over exactly as kept (ids, times, users, compressed objects, change summaries) in
chunks, each committed in one transaction; the destination rebuilds what it derives from them
(identities, aggregates) as it stores them. Where the destination's newest id is, the copy
stands: run again after an interruption, it resumes there. Then the collectors' runs (their
heartbeats, which tell the blind spots) that the destination does not hold as they are, in one
transaction: a run again after an interruption copies only those still missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logistis.collector.store.protocol import CopyStore, StoreError

CHUNK = 1000
# Nothing copied may be trimmed: the source kept what its own limit allowed. A collector sets
# its own limit again when it starts on the destination.
KEEP_EVERYTHING = 2**62


@dataclass(frozen=True, slots=True)
class Copied:
    copied: int
    """Events copied by this run."""
    last_id: int
    """The source's newest id when the copy began: everything up to it is compared."""
    source: int
    destination: int
    runs_copied: int
    """Collector runs copied by this run."""
    runs_source: int
    runs_destination: int
    """The source's runs that the destination holds as they are."""

    @property
    def matches(self) -> bool:
        return self.source == self.destination and self.runs_source == self.runs_destination


async def copy_history(
    source: CopyStore, destination: CopyStore, progress: Callable[[int, int], None] | None = None
) -> Copied:
    """Copy every event of `source` up to its newest now that `destination` does not hold."""
    last_id = await source.last_id()
    after = await _resume_point(source, destination, last_id)
    total, done = await source.count(last_id), await source.count(after)
    copied = 0
    while after < last_id:
        rows = [row for row in await source.export_rows(after, CHUNK) if row[0] <= last_id]
        if not rows:
            break
        await destination.import_rows(rows)
        after, copied, done = rows[-1][0], copied + len(rows), done + len(rows)
        if progress is not None:
            progress(done, total)
    runs = await source.runs()
    held = set(await destination.runs())
    missing = [run for run in runs if run not in held]
    if missing:
        await destination.import_runs(missing)
    held = set(await destination.runs())
    return Copied(
        copied, last_id, total, await destination.count(last_id),
        len(missing), len(runs), sum(run in held for run in runs),
    )  # fmt: skip


async def _resume_point(source: CopyStore, destination: CopyStore, last_id: int) -> int:
    """The destination's newest id, once it is shown to be a copy of the source so far."""
    after = await destination.last_id()
    if after == 0:
        return 0
    theirs = await destination.export_rows(after - 1, 1)
    ours = await source.export_rows(after - 1, 1)
    # The same (id, request uid) at the destination's newest id.
    if after > last_id or not ours or ours[0][:2] != theirs[0][:2]:
        raise StoreError(
            f"{destination.name} already holds events that are not a copy of {source.name}"
            " (copy into an empty store)"
        )
    return after
