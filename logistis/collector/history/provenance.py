"""Who acted and what manages the object, for each recorded event: its actor, the tool managing
the object, whether it was a hand edit and whether the tool put it back, and the revision a
GitOps tool's write came from.

Derived by the deriver after the commit, from the events' objects and the recorded history
around them (`collector.gitops`, `collector.actors` decide; this module reads the history for
them), and kept by the store, one row per event. An event read before the deriver reached it
(or recorded before the store kept these) is derived when read, and not kept: a reader never
sees an event without them. A hand edit is decided at the managing tool's next write to the
object: put back (`revertedBy`), or left in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from logistis.collector.history.actors import SERVICE_ACCOUNT_PREFIX, Actor, classify
from logistis.collector.history.changes import compute_changes
from logistis.collector.history.continuity import Step
from logistis.collector.history.events import Event
from logistis.collector.history.gitops import (
    MANAGING_TOOLS,
    GitOpsSettings,
    ManagedBy,
    Revision,
    managed_by,
    owned_paths,
    puts_back,
    revision_of,
)
from logistis.collector.threads import computed

Identity = tuple[str, str, str, str]
"""(group, resource, namespace, name): the object an event is filed under."""
# Subresources whose requests carry the whole object: its labels and annotations say what
# manages it. Others (a Scale) take it from the object's history.
WHOLE_OBJECT = ("", "status")
# How many of a source object's latest events are looked at for its revision.
RECENT = 4


@dataclass(frozen=True, slots=True)
class Author:
    """Who made an event's request, and the object it is filed under."""

    username: str
    groups: tuple[str, ...]
    field_manager: str
    identity: Identity
    extra: Mapping[str, list[str]] = field(default_factory=dict)
    """userInfo.extra (notification rules select on it)."""

    @classmethod
    def of(cls, event: Event) -> Author:
        resource = event.resource
        return cls(
            event.user.username,
            event.user.groups,
            event.field_manager,
            (resource.group, resource.resource, event.namespace, event.name),
            event.user.extra,
        )


@dataclass(frozen=True, slots=True)
class Provenance:
    actor: Actor
    managed_by: ManagedBy | None = None
    hand_edit: bool = False
    reverted_by: int | None = None
    reverts: tuple[int, ...] = ()
    revision: Revision | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A hand edit's fate at the managing tool's next write."""

    hand_edit: int
    write: int
    reverted: bool


@dataclass(slots=True)
class Derived:
    found: dict[int, Provenance] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)


class ProvenanceStore(Protocol):
    """What deriving needs of a store (each backend implements it with its own SQL)."""

    gitops: GitOpsSettings
    """How events' actors and managing tools are told (the config file's `gitops`)."""

    async def authors(self, ids: Sequence[int]) -> dict[int, Author]:
        """Who made each event's request, and the object it is filed under."""
        ...

    async def kept_provenance(self, ids: Sequence[int]) -> dict[int, Provenance]:
        """The kept rows of these events (none for an event the deriver has not reached)."""
        ...

    async def latest(self, wanted: Sequence[tuple[Identity, int]]) -> list[list[int]]:
        """For each (object, id): its latest recorded events before the id (dry runs left
        out), newest first, a few."""
        ...

    async def hand_edits(self, wanted: Sequence[tuple[Identity, int]]) -> dict[int, Identity]:
        """The kept hand edits of each object before the id, not decided before it."""
        ...

    async def steps(self, ids: Iterable[int]) -> dict[int, Step]: ...


async def fill_in(store: ProvenanceStore, events: Sequence[Event]) -> None:
    """Set the fields of events being read: kept ones as kept, the others derived now."""
    if not events:
        return
    found = await store.kept_provenance([event.id for event in events])
    missing = [event for event in events if event.id not in found]
    if missing:
        steps = await store.steps(event.id for event in missing)
        writes = [(e.id, Author.of(e), steps[e.id]) for e in missing if e.id in steps]
        writes.sort(key=lambda write: write[0])
        found.update((await derive(store, writes, steps)).found)
    for event in events:
        provenance = found.get(event.id)
        if provenance is None:  # no object to derive from: who acted is still known
            author = Author.of(event)
            actors = store.gitops.actors
            actor = classify(author.username, author.groups, author.field_manager, actors)
            provenance = Provenance(actor)
        _set(event, provenance)


def _set(event: Event, provenance: Provenance) -> None:
    event.actor = provenance.actor.to_json()
    event.managed_by = provenance.managed_by.to_json() if provenance.managed_by else None
    event.hand_edit = provenance.hand_edit
    event.reverted_by = provenance.reverted_by
    event.reverts = list(provenance.reverts)
    event.revision = provenance.revision.to_json() if provenance.revision else None


Write = tuple[int, Author, Step]


async def derive(
    store: ProvenanceStore, writes: Sequence[Write], in_hand: Mapping[int, Step]
) -> Derived:
    """Derive events in id order; `in_hand` holds steps already decoded (the rest are read).
    What decodes objects runs off the event loop."""
    pass_ = await computed(_Pass, store.gitops, writes, in_hand)
    await pass_.read_history(store, writes)
    return await computed(pass_.add_all, writes)


class _Pass:
    """One pass over events in id order, with the history it read before."""

    def __init__(
        self, settings: GitOpsSettings, writes: Sequence[Write], in_hand: Mapping[int, Step]
    ) -> None:
        self.settings = settings
        self.actors = {
            i: classify(a.username, a.groups, a.field_manager, settings.actors)
            for i, a, _ in writes
        }
        # What each request's own object says manages it (a Scale says nothing).
        self.own = {
            i: _own_managed(step, settings)
            for i, _, step in writes
            if step.subresource in WHOLE_OBJECT
        }
        self.steps = dict(in_hand)
        self.derived = Derived()
        self.managed: dict[Identity, ManagedBy | None] = {}
        self.open: dict[Identity, dict[int, Step]] = {}
        self.sources: dict[Identity, list[int]] = {}
        self.before: dict[Identity, list[int]] = {}
        self.kept: dict[int, Provenance] = {}

    async def read_history(self, store: ProvenanceStore, writes: Sequence[Write]) -> None:
        """What the pass needs from before it: what managed the objects whose requests carry
        no labels, the undecided hand edits of objects the managing tools write, and the latest
        events of the Applications, Kustomizations and HelmReleases behind those writes."""
        inheriting = _first_of(w for w in writes if w[2].subresource not in WHOLE_OBJECT)
        tool_written = _first_of(w for w in writes if self.actors[w[0]].tool in MANAGING_TOOLS)
        sources = self._sources(writes)
        wanted = [*inheriting.items(), *sources.items()]
        latest = dict(zip(wanted, await store.latest(wanted), strict=True)) if wanted else {}
        self.sources = {identity: latest[identity, i] for identity, i in sources.items()}
        self.before = {identity: latest[identity, i] for identity, i in inheriting.items()}
        earlier = [i for ids in self.before.values() for i in ids]
        self.kept = await store.kept_provenance(earlier) if earlier else {}
        edits = await store.hand_edits(list(tool_written.items())) if tool_written else {}
        unkept = [i for ids in self.before.values() for i in _until_kept(ids, self.kept)]
        await self._read_steps(
            store, [*edits, *unkept, *(i for ids in self.sources.values() for i in ids)]
        )
        for edit, identity in sorted(edits.items()):
            if edit in self.steps:
                self.open.setdefault(identity, {})[edit] = self.steps[edit]

    def add_all(self, writes: Sequence[Write]) -> Derived:
        for identity, ids in self.before.items():
            self.managed[identity] = self._earlier_managed(ids)
        for write in writes:
            self.add(write)
        return self.derived

    def _earlier_managed(self, ids: list[int]) -> ManagedBy | None:
        """What managed an object before: as its latest kept event says, or the labels of the
        latest events that carry the whole object (recorded before these were kept)."""
        for event_id in ids:
            if event_id in self.kept:
                return self.kept[event_id].managed_by
            step = self.steps.get(event_id)
            if step is not None and step.links and step.subresource in WHOLE_OBJECT:
                return _own_managed(step, self.settings)
        return None

    async def _read_steps(self, store: ProvenanceStore, ids: list[int]) -> None:
        unread = [i for i in ids if i not in self.steps]
        if unread:
            self.steps.update(await store.steps(unread))

    def _sources(self, writes: Sequence[Write]) -> dict[Identity, int]:
        """The source objects of the GitOps tools' writes, each with the id after the pass's
        last write it stands behind."""
        sources: dict[Identity, int] = {}
        for event_id, author, _ in writes:
            source = self._source(self.actors[event_id], author, self.own.get(event_id))
            if source is not None:
                sources[source] = max(sources.get(source, 0), event_id)
        return sources

    def _source(self, actor: Actor, author: Author, managed: ManagedBy | None) -> Identity | None:
        if actor.kind != "gitops" or managed is None or managed.tool != actor.tool:
            return None
        if managed.source is None:
            return None
        # Argo CD's tracking id names the Application's namespace only outside Argo CD's own,
        # where its application controller runs.
        namespace = managed.namespace or _service_account_namespace(author.username)
        if namespace is None:
            return None
        return (*managed.source, namespace, managed.name)

    def add(self, write: Write) -> None:
        event_id, author, step = write
        actor = self.actors[event_id]
        identity = author.identity
        if step.subresource in WHOLE_OBJECT:
            managed = self.own[event_id]
        else:
            managed = self.managed.get(identity)
        if step.links:
            self.managed[identity] = managed
        hand_edit = _is_hand_edit(step, actor, managed)
        reverts: tuple[int, ...] = ()
        revision = None
        if managed is not None and _is_tools_write(step, actor, managed):
            reverts = self._decide(event_id, identity, step)
            revision = self._revision(event_id, actor, author, managed)
        if hand_edit:
            self.open.setdefault(identity, {})[event_id] = step
        self.derived.found[event_id] = Provenance(
            actor, managed, hand_edit, None, reverts, revision
        )

    def _decide(self, event_id: int, identity: Identity, step: Step) -> tuple[int, ...]:
        """The managing tool writes again: every hand edit still open on the object is decided,
        put back or left in place."""
        reverted = []
        for edit, edited in sorted(self.open.pop(identity, {}).items()):
            paths = owned_paths(_changes(edited))
            back = puts_back(edited.operation, edited.old, paths, step.operation, step.new)
            self.derived.decisions.append(Decision(edit, event_id, back))
            if back:
                reverted.append(edit)
                if edit in self.derived.found:
                    self.derived.found[edit] = replace(
                        self.derived.found[edit], reverted_by=event_id
                    )
        return tuple(reverted)

    def _revision(
        self, event_id: int, actor: Actor, author: Author, managed: ManagedBy
    ) -> Revision | None:
        source = self._source(actor, author, managed)
        for source_id in self.sources.get(source, []) if source else []:
            step = self.steps.get(source_id)
            revision = revision_of(step.new) if source_id < event_id and step else None
            if revision:
                return Revision(managed.tool, managed.name, revision)
        return None


def _own_managed(step: Step, settings: GitOpsSettings) -> ManagedBy | None:
    """What manages the object by its own labels: before the write, else after it (a tool's
    creation, or a person's write that took its marks off)."""
    return managed_by(step.old, settings) or managed_by(step.new, settings)


def _is_hand_edit(step: Step, actor: Actor, managed: ManagedBy | None) -> bool:
    if managed is None or actor.kubernetes or actor.tool == managed.tool:
        return False
    if not step.links or step.subresource == "status" or step.operation not in ("UPDATE", "DELETE"):
        return False
    return step.operation == "DELETE" or bool(owned_paths(_changes(step)))


def _is_tools_write(step: Step, actor: Actor, managed: ManagedBy) -> bool:
    return actor.tool == managed.tool and step.links and step.subresource != "status"


def _changes(step: Step) -> list[dict[str, str]]:
    if step.changes is not None:
        return step.changes
    return compute_changes(step.operation, step.old, step.new)


def _until_kept(ids: list[int], kept: Mapping[int, Provenance]) -> list[int]:
    """The ids, newest first, before the first one kept."""
    found = []
    for event_id in ids:
        if event_id in kept:
            break
        found.append(event_id)
    return found


def _first_of(writes: Iterable[Write]) -> dict[Identity, int]:
    """Each object of these writes, with the id of its first one."""
    first: dict[Identity, int] = {}
    for event_id, author, _ in writes:
        first.setdefault(author.identity, event_id)
    return first


def _service_account_namespace(username: str) -> str | None:
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, _, _ = username.removeprefix(SERVICE_ACCOUNT_PREFIX).partition(":")
    return namespace or None
