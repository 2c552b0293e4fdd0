"""Continuity and outcome on the captured sequences: no false alarm, holes found exactly."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from logistis.collector.history.changes import compute_changes
from logistis.collector.history.continuity import (
    NEIGHBOURS,
    PENDING,
    Outcome,
    Step,
    continuity,
    outcome,
)
from tests.support.fixtures import fixture_files, load

Key = tuple[str, str, str, str]


def request(number: int) -> dict:
    return load(number)["body"]["request"]


def step(number: int) -> Step:
    r = request(number)
    return Step(
        r["operation"], r.get("subResource", ""), r["dryRun"], r.get("oldObject"), r.get("object")
    )


def histories() -> dict[Key, list[int]]:
    """Every captured request's number, per object (namespace, name, resource, group)."""
    grouped: dict[Key, list[int]] = defaultdict(list)
    for path in fixture_files():
        number = int(path.name[:3])
        r = request(number)
        obj = r.get("object") or r.get("oldObject") or {}
        name = r.get("name") or obj.get("metadata", {}).get("name", "")
        grouped[
            (r.get("namespace", ""), name, r["resource"]["resource"], r["resource"]["group"])
        ].append(number)
    return grouped


def judged(numbers: list[int]) -> dict[int, tuple]:
    """Each request's continuity, unrecorded paths and outcome, as the store would judge them."""
    steps = [(n, step(n)) for n in numbers]
    result = {}
    for i, (number, current) in enumerate(steps):
        before = [s for _, s in steps[:i] if s.links][::-1][:NEIGHBOURS]
        after = [s for _, s in steps[i + 1 :] if s.links][:NEIGHBOURS]
        mark, ops = continuity(current, before)
        result[number] = (mark, [op["path"] for op in ops], outcome(current, after, before))
    return result


def nginx() -> list[int]:
    return histories()[("team-a", "nginx", "deployments", "apps")]


def test_the_full_captured_history_has_no_false_gap():
    marks = {n: v for numbers in histories().values() for n, v in judged(numbers).items()}
    assert not [n for n, (mark, _, _) in marks.items() if mark == "gap"]
    # The one hole the capture has: the namespace controller's status write is expected.
    expected = {n: paths for n, (mark, paths, _) in marks.items() if mark == "expected"}
    assert expected == {226: ["/status/phase"]}


def test_changes_that_never_landed_in_the_captured_history():
    marks = {n: v for numbers in histories().values() for n, v in judged(numbers).items()}
    never = sorted(n for n, (_, _, result) in marks.items() if result.applied is False)
    # Four dry runs, and the garbage collector's update of ReplicaSet nginx-8ff954c69 that
    # raced with the replicaset controller's status write (213 and 209 share an old object):
    # the next requests still find its finalizer, and the collector retried it as 216.
    assert never == [2, 148, 149, 150, 213]
    assert marks[209][2].applied is True


@pytest.mark.parametrize("left_out", [59, 71, 81, 82, 84])
def test_a_request_left_out_shows_as_a_gap_with_exactly_its_paths(left_out):
    history = nginx()
    kept = [n for n in history if n != left_out]
    following = kept[kept.index(history[history.index(left_out) + 1])]
    mark, paths, _ = judged(kept)[following]
    assert mark == "gap"
    expected = [c["path"] for c in compute_changes("UPDATE", *old_and_new(left_out))]
    assert paths == expected


def old_and_new(number: int) -> tuple[dict, dict]:
    r = request(number)
    return r["oldObject"], r["object"]


def test_scale_is_compared_on_the_replica_count():
    marks = judged(nginx())
    assert marks[59][0] == "continuous"  # a Scale after the Deployment's status write
    assert marks[62][0] == "continuous"  # the Deployment after the Scale
    assert marks[59][2].applied is True


def test_a_delete_with_finalizers_continues_while_they_run():
    marks = judged(nginx())
    assert marks[193][2].applied is True
    assert [marks[n][0] for n in (194, 210, 218)] == ["continuous"] * 3


def test_a_create_after_a_delete_is_a_new_life_and_after_an_update_a_gap():
    assert continuity(step(143), [step(182)]) == ("first", [])
    assert continuity(step(143), [step(151)]) == ("gap", [{"op": "remove", "path": ""}])
    assert outcome(step(182), [step(143)]).applied is True


def test_the_latest_event_is_pending_and_requests_on_other_kinds_take_no_part():
    assert outcome(step(84), []) == PENDING
    assert continuity(step(172), [step(171)]) == (None, [])  # CONNECT exec
    assert continuity(step(15), [step(14)]) == (None, [])  # TokenRequest
    assert outcome(step(175), []).final  # Eviction: nothing will tell


def rejected_set_image() -> Step:
    """alice's `kubectl set image` of 071 with a tag a later admission step refused."""
    r = request(71)
    new = json.loads(json.dumps(r["object"]))
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26-typo"
    return Step("UPDATE", "", False, r["oldObject"], new)


def test_a_rejected_request_followed_by_one_with_the_same_old_object_never_landed():
    history = nginx()
    after = [step(n) for n in history[history.index(71) :] if step(n).links][:NEIGHBOURS]
    assert outcome(rejected_set_image(), after) == Outcome(False, final=True)
    assert outcome(step(71), after[1:]).applied is True
    # The write that did land is continuous with the one that did not (same old object).
    before = [rejected_set_image(), *[step(n) for n in reversed(history[: history.index(71)])]]
    assert continuity(step(71), [s for s in before if s.links][:NEIGHBOURS]) == ("continuous", [])


def test_a_race_lost_is_told_whichever_of_the_rivals_was_recorded_first():
    history = nginx()
    before = [step(n) for n in reversed(history[: history.index(71) + 1]) if step(n).links]
    after = [step(n) for n in history[history.index(71) + 1 :] if step(n).links]
    # The loser's webhook answered after the winner's: 071 is before it, not after it.
    assert outcome(rejected_set_image(), after[:NEIGHBOURS], before[:NEIGHBOURS]) == Outcome(
        False, final=True
    )
    assert outcome(step(71), [rejected_set_image(), *after][:NEIGHBOURS]).applied is True


CREATED_MS = 1_795_571_258_000  # nginx's creationTimestamp, 2026-11-25T01:47:38Z


def test_an_object_created_since_the_history_began_without_its_create_is_a_gap():
    # 045, alice's CREATE, went unrecorded; 051 is the first recorded event of nginx.
    assert continuity(step(51), [], CREATED_MS - 60_000) == ("gap", [{"op": "add", "path": ""}])
    assert continuity(step(51), [], CREATED_MS) == ("gap", [{"op": "add", "path": ""}])
    # Older than the history, or nothing known of when it began: its first recorded event.
    assert continuity(step(51), [], CREATED_MS + 1_000) == ("first", [])
    assert continuity(step(51), []) == ("first", [])
    assert continuity(step(45), [], CREATED_MS - 60_000) == ("first", [])
