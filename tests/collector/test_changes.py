"""Change summaries: RFC 6902 paths from old to new object, values and noise left out."""

from __future__ import annotations

import random
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logistis.collector.history import changes
from logistis.collector.history.changes import (
    _is_noise,
    _without_noise,
    _without_value,
    compute_changes,
)
from tests.support.fixtures import bodies, load


def request(number: int) -> dict:
    return load(number)["body"]["request"]


def test_create_delete_and_connect():
    assert compute_changes("CREATE", None, request(45)["object"]) == [{"op": "add", "path": ""}]
    assert compute_changes("DELETE", request(193)["oldObject"], None) == [
        {"op": "remove", "path": ""}
    ]
    assert compute_changes("CONNECT", None, request(172)["object"]) == []


def test_label_patch_is_one_path():
    assert compute_changes("UPDATE", request(81)["oldObject"], request(81)["object"]) == [
        {"op": "add", "path": "/metadata/labels/tier"}
    ]


def test_heartbeats_and_server_fields_are_noise():
    changes = compute_changes("UPDATE", request(166)["oldObject"], request(166)["object"])
    paths = [c["path"] for c in changes]
    assert "/status/conditions/0/lastTransitionTime" in paths
    assert not any(
        p.endswith(("lastUpdateTime", "lastHeartbeatTime", "lastProbeTime")) for p in paths
    )
    assert not any(p.startswith("/metadata/managedFields") for p in paths)
    assert "/metadata/resourceVersion" not in paths


@pytest.mark.parametrize(
    "review",
    [b for b in bodies() if b["request"]["operation"] == "UPDATE"],
    ids=lambda b: b["request"]["uid"][:8],
)
def test_every_update_names_exactly_the_paths_a_full_patch_touches(review):
    old, new = review["request"]["oldObject"], review["request"]["object"]
    expected = {
        op["path"]
        for op in jsonpatch.make_patch(old, new).patch
        if not op["path"].startswith(
            ("/metadata/managedFields", "/metadata/resourceVersion", "/metadata/generation")
        )
        and not op["path"].endswith(("lastUpdateTime", "lastHeartbeatTime", "lastProbeTime"))
    }
    changes = compute_changes("UPDATE", old, new)
    assert all(set(c) <= {"op", "path", "from"} for c in changes)
    assert {c["path"] for c in changes} == expected


# -- large changes: jsonpatch's summary up to a size, one entry per large member past it --------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0]),
    st.text("ab", max_size=2),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.text("abc/~", max_size=2), inner, max_size=4)
    ),
    max_leaves=25,
)


def before_linear(old: dict, new: dict) -> list[dict]:
    """The summary as it was made before its cost was bounded: jsonpatch's whole diff of the
    objects without their equal members."""

    def differing(old: dict, new: dict) -> tuple[dict, dict]:
        old_part, new_part = {}, {}
        for key, value in old.items():
            if key not in new:
                old_part[key] = value
            elif value != new[key]:
                other = new[key]
                if type(value) is dict and type(other) is dict:
                    value, other = differing(value, other)
                old_part[key], new_part[key] = value, other
        new_part.update((key, value) for key, value in new.items() if key not in old)
        return old_part, new_part

    patch = jsonpatch.make_patch(*differing(_without_noise(old), _without_noise(new)))
    return [_without_value(op) for op in patch.patch if not _is_noise(op["path"])]


def edited(value: Any, rng: random.Random) -> Any:
    """A copy with a few edits: items inserted, removed, swapped and replaced, members added,
    removed and changed (to values of another type too: 1 to true)."""
    if isinstance(value, list):
        items = [edited(item, rng) if rng.random() < 0.3 else item for item in value]
        for _ in range(rng.randrange(3)):
            where = rng.randrange(len(items) + 1)
            roll = rng.random()
            if roll < 0.3:
                items.insert(where, rng.choice([1, True, "a", {"k": 1}, [2]]))
            elif items and roll < 0.6:
                del items[min(where, len(items) - 1)]
            elif len(items) > 1:
                first, second = rng.sample(range(len(items)), 2)
                items[first], items[second] = items[second], items[first]
        return items
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.1:
                continue
            result[key] = edited(item, rng) if roll < 0.5 else item
        if rng.random() < 0.2:
            result["new"] = rng.choice([1, True, None, [1, 2], {"a": "b"}])
        return result
    return rng.choice([value, value, 1, True, 1.0, "b"])


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.randoms(use_true_random=False), st.integers(0, 200))
def test_small_changes_give_the_summary_of_before(value, rng, padding):
    """Up to the limit, the summary is the one made before, lists cut at their common start
    and end or not: `padding` equal items around them move every index."""
    pad = list(range(padding))
    old = {"spec": {"x": [*pad, value, *pad], "y": value}}
    new = {"spec": {"x": [*pad, edited(value, rng), *pad], "y": edited(value, rng)}}
    assert compute_changes("UPDATE", old, new) == before_linear(old, new)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text("abc/~", max_size=2), JSON_VALUES, max_size=6),
    st.randoms(use_true_random=False),
)
def test_an_update_walked_without_jsonpatch_has_its_operations(value, rng):
    """Where the summary walks the objects itself (no lists to match up, no value moved), its
    operations are jsonpatch's, in jsonpatch's order."""
    old, new = {"spec": value}, {"spec": edited(value, rng)}
    walked = changes._members_patch(old, new)
    if walked is not None:
        assert walked == [_without_value(op) for op in jsonpatch.make_patch(old, new).patch]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1}, {"a": True}),
        ({"a": 1}, {"a": 1.0}),
        ({"a": 0.0}, {"a": -0.0}),
        ({"a": {"x": 1}}, {"a": {}, "b": 1}),  # a move: jsonpatch's own
        ({"a": {"x": [1]}}, {"a": {"y": [1]}}),  # a move
        ({"a/b": {"~": 1}}, {"a/b": {"~": "1"}, "c": None}),
        ({"a": [1]}, {"a": [2], "b": 1}),  # the item's 1 moved to /b
        ({"a": [1, {"x": 2}]}, {"a": [3, {"x": 1}]}),  # the first item's 1 moved
        ({"a": [[1]]}, {"a": [[2]]}),
        ({"a": [1, 2]}, {"a": []}),
        ({"a": []}, {"a": [1, {"b": 2}]}),
        ({"a": [{"x": [1]}, 2]}, {"a": [{"x": [True]}, 3]}),  # equal in Python inside an item
    ],
)
def test_values_equal_in_python_or_moved_give_jsonpatchs_operations(old, new):
    """The walk on objects as they come (the summary leaves out members equal in Python
    before, so that 1 to 1.0 is no change there)."""
    walked = changes._members_patch(old, new)
    assert walked is None or walked == [
        _without_value(op) for op in jsonpatch.make_patch(old, new).patch
    ]


def test_an_image_set_beside_lists_left_as_they_were_is_walked():
    """`kubectl set image`: the container's ports and env, unchanged, are not list items to
    match up."""
    container = {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
    container["env"] = [{"name": "A", "value": "1"}]
    old = {"spec": {"template": {"spec": {"containers": [container]}}}}
    new = {"spec": {"template": {"spec": {"containers": [{**container, "image": "nginx:1.27"}]}}}}
    expected = [{"op": "replace", "path": "/spec/template/spec/containers/0/image"}]
    assert changes._members_patch(old, new) == expected
    assert [_without_value(op) for op in jsonpatch.make_patch(old, new).patch] == expected


def test_most_captured_updates_are_walked_without_jsonpatch_to_the_same_operations():
    walked = 0
    for review in bodies():
        request = review["request"]
        if request["operation"] != "UPDATE":
            continue
        offsets: dict[str, int] = {}
        old, new = changes._differing(
            _without_noise(request["oldObject"]), _without_noise(request["object"]), "", offsets
        )
        ops = changes._members_patch(old, new)
        if ops is not None:
            walked += 1
            assert ops == [_without_value(op) for op in jsonpatch.make_patch(old, new).patch]
    assert walked >= 90  # of the 102 (97: the others match list items up, or move one)


def test_captured_updates_edited_at_random_give_the_summary_of_before():
    rng = random.Random(23)
    for review in bodies():
        request = review["request"]
        if request["operation"] != "UPDATE":
            continue
        old = request["oldObject"]
        for _ in range(5):
            new = edited(request["object"], rng)
            assert compute_changes("UPDATE", old, new) == before_linear(old, new)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text("ab", max_size=2), JSON_VALUES, max_size=6),
    st.randoms(use_true_random=False),
)
def test_past_the_limit_every_changed_path_is_named_or_inside_a_counted_entry(value, rng):
    assert_named_or_counted({"data": value}, {"data": edited(value, rng)})


def test_a_path_moved_from_is_named_when_its_value_went_where_a_counted_entry_is_not():
    """The whole diff moves a `null` removed inside the large list to `/data/a/0/new`, and
    removes `/data/a/1/`; without that list, the summary moves the one of `/data/a/1/` there:
    the path is named by the move's `from`."""
    old = {"data": {"": [[None, None, None], [None] * 4], "a": [{"": None}, {"": None}]}}
    new = {"data": {"": [[2], [None, 1.0, None]], "a": [{"": None, "new": None}, {}]}}
    assert_named_or_counted(old, new)


def assert_named_or_counted(old: dict, new: dict) -> None:
    """Every path the whole diff changes is in the summary made with tiny limits: named (as a
    path, or as the `from` of a move) or inside an entry that counts its changes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(changes, "EXACT_ITEMS", 3)
        patch.setattr(changes, "COARSE_MEMBERS", 2)
        coarse = compute_changes("UPDATE", old, new)
    counted = [c["path"] for c in coarse if "count" in c]
    named = {
        c[member] for c in coarse if "count" not in c for member in ("path", "from") if member in c
    }
    for op in before_linear(old, new):
        inside = any(op["path"] == p or op["path"].startswith(p + "/") for p in counted)
        assert inside or op["path"] in named, (op, coarse)


def test_sixty_thousand_changed_keys_are_one_entry_and_the_other_changes_stay_named():
    old = {"metadata": {"name": "big"}, "data": {f"key-{i}": "a" for i in range(60_000)}}
    new = {
        "metadata": {"name": "big", "labels": {"tier": "web"}},
        "data": {f"key-{i}": "b" for i in range(60_000)},
    }
    assert compute_changes("UPDATE", old, new) == [
        {"op": "replace", "path": "/data", "count": 60_000},
        {"op": "add", "path": "/metadata/labels"},
    ]


def test_a_list_of_150000_changed_items_is_one_entry():
    old = {"spec": {"values": list(range(150_000))}}
    new = {"spec": {"values": [-i for i in range(1, 150_001)]}}
    assert compute_changes("UPDATE", old, new) == [
        {"op": "replace", "path": "/spec/values", "count": 150_000}
    ]


def test_one_item_changed_in_a_long_list_is_named_with_its_index():
    values = list(range(150_000))
    changed = [*values[:70_000], -1, *values[70_001:]]
    assert compute_changes("UPDATE", {"v": values}, {"v": changed}) == [
        {"op": "replace", "path": "/v/70000"}
    ]
