"""The shape of the activity (`GET /api/v1/insights`), as the front ends draw and print it.

Parsed once from the API's JSON into frozen dataclasses, as `core.events` does for events; the
sums the charts need (people against automation) are computed here, not in the widgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from logistis.tui.core.events import JSONObject, KindCount, ValueCount, parse_time

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
