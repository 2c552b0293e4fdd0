"""Change summaries skip equal members before diffing; the patch must be the one jsonpatch makes."""

from __future__ import annotations

import copy
import random
from typing import Any

import jsonpatch

from logistis.collector.history.changes import (
    _is_noise,
    _without_noise,
    _without_value,
    compute_changes,
)
from tests.support.fixtures import bodies


def unpruned(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    patch = jsonpatch.make_patch(_without_noise(old), _without_noise(new))
    return [_without_value(op) for op in patch.patch if not _is_noise(op["path"])]


def updates() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    requests = [body["request"] for body in bodies()]
    return [
        (r["oldObject"], r["object"]) for r in requests if r.get("oldObject") and r.get("object")
    ]


def mutated(obj: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy with members removed, renamed, replaced and list items moved, at every depth."""
    result = copy.deepcopy(obj)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in list(value):
                roll = rng.random()
                if roll < 0.05:
                    del value[key]
                elif roll < 0.1:
                    value[key + "-renamed"] = value.pop(key)
                elif roll < 0.15:
                    value[key] = "changed"
                else:
                    walk(value[key])
        elif isinstance(value, list):
            if value and rng.random() < 0.2:
                value.append(value.pop(0))
            if rng.random() < 0.2:
                value.insert(0, {"added": True})
            for item in value:
                walk(item)

    walk(result)
    return result


def test_real_updates_give_the_same_patch() -> None:
    for old, new in updates():
        assert compute_changes("UPDATE", old, new) == unpruned(old, new)


def test_random_edits_give_the_same_patch() -> None:
    rng = random.Random(6)
    for old, new in updates():
        for _ in range(5):
            edited = mutated(new, rng)
            assert compute_changes("UPDATE", old, edited) == unpruned(old, edited)
