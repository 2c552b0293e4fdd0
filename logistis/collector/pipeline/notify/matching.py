"""Which notifications an event is due: matched by the deriver's pass, once the event's own
fields (who acted, hand edit, continuity) are known, and queued with that pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from logistis.collector.history.actors import Actor
from logistis.collector.history.continuity import Step
from logistis.collector.history.events import Event
from logistis.collector.history.judgements import Judgement
from logistis.collector.history.provenance import Author, Derived, Provenance, ProvenanceStore
from logistis.collector.pipeline.notify.config import NotifySettings, Rule
from logistis.collector.store import OutboxRow, Underived


class Facts:
    """What a rule looks at of one event: the request as the capture rules read it, and the
    event's own fields."""

    __slots__ = ("continuity", "found", "request")

    def __init__(
        self, request: Mapping[str, Any], found: Provenance | None, continuity: str | None
    ) -> None:
        self.request = request
        self.found = found
        self.continuity = continuity


def matches(rule: Rule, facts: Facts) -> bool:
    found = facts.found
    if rule.actors is not None and (found is None or found.actor.kind not in rule.actors):
        return False
    if rule.hand_edit is not None and (found is None or found.hand_edit != rule.hand_edit):
        return False
    if rule.continuity is not None and facts.continuity not in rule.continuity:
        return False
    return rule.selectors is None or rule.selectors.decide(facts.request).record


def due_items(rules: Sequence[Rule], event_id: int, time_ms: int, facts: Facts) -> list[OutboxRow]:
    """One item per sink that a matching rule names (the first such rule's)."""
    items: dict[str, OutboxRow] = {}
    for rule in rules:
        if matches(rule, facts):
            for sink in rule.sinks:
                items.setdefault(sink, (event_id, sink, rule.name, time_ms))
    return list(items.values())


def request_of(
    operation: str, subresource: str, dry_run: bool, author: Author, step: Step | None
) -> dict[str, Any]:
    """The admission request as far as the store keeps it, in the capture rules' shape."""
    group, resource, namespace, name = author.identity
    new, old = (step.new, step.old) if step is not None else (None, None)
    shown = new or old or {}
    api_version = str(shown.get("apiVersion") or "")
    kind_group, _, version = api_version.rpartition("/")
    return {
        "operation": operation,
        "subResource": subresource,
        "dryRun": dry_run,
        "namespace": namespace,
        "name": name,
        "userInfo": {
            "username": author.username,
            "groups": list(author.groups),
            "extra": dict(author.extra),
        },
        "kind": {"group": kind_group, "version": version, "kind": shown.get("kind") or ""},
        "resource": {"group": group, "resource": resource},
        "object": new,
        "oldObject": old,
    }


def facts_of(event: Event) -> Facts:
    """A recorded event as the rules see it (`notify test`): read back whole, with its
    derived fields."""
    resource = event.resource
    request = {
        "operation": event.operation,
        "subResource": resource.subresource,
        "dryRun": event.dry_run,
        "namespace": event.namespace,
        "name": event.name,
        "userInfo": event.user.to_json(),
        "kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "resource": {"group": resource.group, "resource": resource.resource},
        "object": event.object,
        "oldObject": event.old_object,
    }
    actor = event.actor
    found = (
        Provenance(Actor(actor["kind"], actor["tool"]), hand_edit=event.hand_edit)
        if actor
        else None
    )
    return Facts(request, found, event.continuity)


async def due(
    settings: NotifySettings,
    store: ProvenanceStore,
    events: Sequence[Underived],
    steps: Mapping[int, Step],
    judgements: Mapping[int, Judgement],
    provenance: Derived | None,
) -> list[OutboxRow]:
    """What the deriver's pass queues: the items of its events that rules match (dry runs
    change nothing and are never told of)."""
    wanted = [event for event in events if not event.dry_run]
    if not settings.enabled or not wanted:
        return []
    authors = await store.authors([event.id for event in wanted])
    found = provenance.found if provenance is not None else {}
    items: list[OutboxRow] = []
    for event in wanted:
        author = authors.get(event.id)
        if author is None:
            continue
        request = request_of(event.operation, event.subresource, False, author, steps.get(event.id))
        judged = judgements.get(event.id)
        facts = Facts(request, found.get(event.id), judged.continuity if judged else None)
        items.extend(due_items(settings.rules, event.id, event.time_ms, facts))
    return items
