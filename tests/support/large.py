"""Large valid reviews: updates that change tens of thousands of items at once, as anyone who
may update a ConfigMap or a custom resource can send (issue 23, item 1)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from tests.support.fixtures import bodies

Review = dict[str, Any]

CONFIGMAP_KEYS = 60_000
LIST_ITEMS = 150_000


def _update_of(kind: str) -> Review:
    return next(
        b
        for b in bodies()
        if b["request"]["operation"] == "UPDATE" and b["request"]["kind"]["kind"] == kind
    )


def _fresh(base: Review, name: str) -> Review:
    review = copy.deepcopy(base)
    request = review["request"]
    request["uid"] = str(uuid.uuid4())
    request["name"] = name
    for obj in (request["object"], request["oldObject"]):
        obj["metadata"]["name"] = name
    return review


def large_configmap_update(number: int) -> Review:
    """A ConfigMap whose 60,000 keys all change: a 1.6 MB review."""
    review = _fresh(_update_of("ConfigMap"), f"large-configmap-{number}")
    request = review["request"]
    for obj, value in ((request["oldObject"], number), (request["object"], number + 1)):
        obj["data"] = {f"k{i:05d}": f"{value % 100:02d}" for i in range(CONFIGMAP_KEYS)}
    return review


def large_list_update(number: int) -> Review:
    """A custom resource whose list of 150,000 numbers all change: a 2 MB review."""
    review = _fresh(_update_of("Widget"), f"large-list-{number}")
    request = review["request"]
    request["oldObject"]["spec"]["values"] = list(range(LIST_ITEMS))
    request["object"]["spec"]["values"] = [-i for i in range(1, LIST_ITEMS + 1)]
    return review


def large_update(number: int) -> Review:
    """Each shape in turn."""
    return (large_configmap_update if number % 2 == 0 else large_list_update)(number)


def coarse_entry(review: Review) -> dict[str, Any]:
    """The one entry a large update's change summary holds for its large member."""
    if review["request"]["kind"]["kind"] == "ConfigMap":
        return {"op": "replace", "path": "/data", "count": CONFIGMAP_KEYS}
    return {"op": "replace", "path": "/spec/values", "count": LIST_ITEMS}
