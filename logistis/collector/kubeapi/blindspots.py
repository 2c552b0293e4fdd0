"""Blind spots as Kubernetes objects: `BlindSpot`, cluster-scoped, get and list.

The periods of `GET /api/v1/coverage`, so that a reader who comes through the cluster's API
sees the holes in the history as well as the changes. `metadata.name` is the start in Unix
milliseconds (stable: a spot's start never moves), `creationTimestamp` the start; `start`,
`end` (null while nothing records), `seconds` and `cause` as in /api/v1/coverage. A list takes
`since` and `until` and is served whole (blind spots are few): `limit` is accepted and not
applied, and there is no watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from logistis.collector.edge.parameters import event_query, parse_query
from logistis.collector.history.events import time_from_ms, time_to_ms
from logistis.collector.history.query import QueryError
from logistis.collector.kubeapi.listing import kube_boolean
from logistis.collector.kubeapi.objects import KubeObject, timestamp
from logistis.collector.kubeapi.resources import BLIND_SPOTS, GROUP_VERSION
from logistis.collector.kubeapi.status import StatusError
from logistis.collector.kubeapi.table import Column, frame, human_duration, row
from logistis.collector.pipeline.coverage import BlindSpot

PARAMETERS = (
    "since",
    "until",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "watch",
    "includeObject",
    "pretty",
    "timeout",
)
COLUMNS: tuple[Column, ...] = (
    ("Name", "string", "name", 0, "The start, in Unix milliseconds."),
    ("Start", "string", "date-time", 0, "When recording stopped."),
    ("End", "string", "", 0, "When recording resumed; ongoing while nothing records."),
    ("Duration", "string", "", 0, "How long nothing recorded."),
    ("Cause", "string", "", 0, "stopped, lost or silent (docs/trust.md)."),
)


@dataclass(frozen=True, slots=True)
class Window:
    since_ms: int | None
    until_ms: int | None


def parse_window(params: list[tuple[str, str]]) -> Window:
    try:
        grouped = parse_query(params, allowed=PARAMETERS)
        window = event_query({k: v for k, v in grouped.items() if k in ("since", "until")})
    except QueryError as error:
        raise StatusError(400, f"invalid parameter {error.parameter!r}: {error}") from None
    if any(kube_boolean(value) for value in grouped.get("watch", ())):
        raise StatusError(405, "blindspots cannot be watched: list them again")
    since, until = (time_to_ms(t) if t else None for t in (window.since, window.until))
    return Window(since, until)


def blind_spot(spot: BlindSpot, now_ms: int) -> KubeObject:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": BLIND_SPOTS.kind,
        "metadata": _metadata(spot),
        **spot.to_json(now_ms),
    }


def blind_spot_list(spots: list[BlindSpot], now_ms: int) -> KubeObject:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": BLIND_SPOTS.list_kind,
        "metadata": {},
        "items": [blind_spot(s, now_ms) for s in spots],
    }


def blind_spot_table(version: str, spots: list[BlindSpot], now_ms: int, include: str) -> KubeObject:
    rows = [
        row(version, _cells(s, now_ms), include, _metadata(s), partial(blind_spot, s, now_ms))
        for s in spots
    ]
    return frame(version, COLUMNS, rows, None)


def _metadata(spot: BlindSpot) -> KubeObject:
    return {"name": str(spot.start_ms), "creationTimestamp": _moment(spot.start_ms)}


def _cells(spot: BlindSpot, now_ms: int) -> list[str]:
    end = spot.end_ms if spot.end_ms is not None else now_ms
    return [
        str(spot.start_ms),
        _moment(spot.start_ms),
        _moment(spot.end_ms) if spot.end_ms is not None else "ongoing",
        human_duration(time_from_ms(end) - time_from_ms(spot.start_ms)),
        spot.cause,
    ]


def _moment(ms: int) -> str:
    return timestamp(time_from_ms(ms))
