"""The shape of the activity (`GET /api/v1/insights`), as the front ends draw and print it.

Parsed once from the API's JSON into frozen dataclasses, as `core.events` does for events; the
sums the charts need (people against automation) are computed here, not in the widgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from logistis.client.events import JSONObject, KindCount, ValueCount, parse_time
from logistis.client.timeparse import format_precise

ACTOR_KINDS = ("person", "gitops", "controller", "serviceaccount")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def people_and_automation(by_actor: Mapping[str, int]) -> tuple[int, int]:
    """Changes by people, and by GitOps tools, controllers and service accounts together."""
    people = by_actor.get("person", 0)
    return people, sum(by_actor.values()) - people


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    count: int
    by_actor: Mapping[str, int]
    hand_edits: int

    @classmethod
    def from_json(cls, data: JSONObject) -> Bucket:
        by_actor = {kind: int(data["byActor"].get(kind, 0)) for kind in ACTOR_KINDS}
        return cls(parse_time(data["start"]), int(data["count"]), by_actor, int(data["handEdits"]))


@dataclass(frozen=True, slots=True)
class ObjectCount:
    group: str
    resource: str
    kind: str
    namespace: str
    name: str
    count: int

    @classmethod
    def from_json(cls, data: JSONObject) -> ObjectCount:
        return cls(
            data["group"],
            data["resource"],
            data["kind"],
            data["namespace"],
            data["name"],
            int(data["count"]),
        )


@dataclass(frozen=True, slots=True)
class Insights:
    since: datetime
    until: datetime
    bucket: timedelta
    total: int
    by_actor: Mapping[str, int]
    hand_edits: int
    marks: Mapping[str, int]
    buckets: tuple[Bucket, ...]
    top_people: tuple[ValueCount, ...]
    top_namespaces: tuple[ValueCount, ...]
    top_kinds: tuple[KindCount, ...]
    top_objects: tuple[ObjectCount, ...]
    busiest_hours: tuple[tuple[int, ...], ...]
    """Seven rows, Monday first, of 24 counts (UTC hours)."""

    @classmethod
    def from_json(cls, data: JSONObject) -> Insights:
        return cls(
            parse_time(data["since"]),
            parse_time(data["until"]),
            timedelta(seconds=float(data["bucketSeconds"])),
            int(data["total"]),
            {kind: int(data["byActor"].get(kind, 0)) for kind in ACTOR_KINDS},
            int(data["handEdits"]),
            {name: int(n) for name, n in data["marks"].items()},
            tuple(Bucket.from_json(b) for b in data["buckets"]),
            tuple(ValueCount(p["user"], int(p["count"])) for p in data["topPeople"]),
            tuple(ValueCount(n["namespace"], int(n["count"])) for n in data["topNamespaces"]),
            tuple(KindCount.from_json(k) for k in data["topKinds"]),
            tuple(ObjectCount.from_json(o) for o in data["topObjects"]),
            tuple(tuple(int(n) for n in row) for row in data["busiestHours"]),
        )


@dataclass(frozen=True, slots=True)
class Choice:
    """One bar of a chart: what it is called, its count, and what choosing it narrows the
    event list to (EventFilter fields)."""

    label: str
    count: int
    narrowing: Mapping[str, str | None]


def bucket_choices(found: Insights) -> list[tuple[Choice, int, int]]:
    """Each bucket with its people and automation apart; choosing it selects its period."""
    daily = found.bucket >= timedelta(days=1)
    shown = []
    for bucket in found.buckets:
        end = bucket.start + found.bucket
        label = bucket.start.strftime("%m-%d" if daily else "%H:%M")
        period = {"since": format_precise(bucket.start), "until": format_precise(end)}
        people, automation = people_and_automation(bucket.by_actor)
        # Events the deriver has not reached yet count with neither: shown with automation.
        automation += bucket.count - people - automation
        shown.append((Choice(label, bucket.count, period), people, automation))
    return shown


def ranked_choices(found: Insights, which: str) -> list[Choice]:
    """A top list as bars: `people`, `namespaces`, `kinds` or `objects`."""
    if which == "people":
        return [Choice(p.value, p.count, {"user": p.value}) for p in found.top_people]
    if which == "namespaces":
        return [
            Choice(n.value or "(cluster)", n.count, {"namespace": n.value})
            for n in found.top_namespaces
        ]
    if which == "kinds":
        return [
            Choice(k.kind, k.count, {"kind": k.resource, "group": k.group}) for k in found.top_kinds
        ]
    return [
        Choice(
            f"{o.namespace}/{o.name}" if o.namespace else o.name,
            o.count,
            {"namespace": o.namespace, "kind": o.resource, "group": o.group, "name": o.name},
        )
        for o in found.top_objects
    ]
