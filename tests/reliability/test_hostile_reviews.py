"""The reproducers of the hostile-input defects, each against a real collector process.

A review whose `options` hold a value of the wrong type (an integer past 64 bits killed the
writer; an object or a list cost its whole group their record), bodies whose Content-Encoding
lies or is unknown (a plain-text 500 or 400), and objects nested deep (silently not stored, or
called malformed, depending on the depth).
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.collector import CollectorProcess

from .load import (
    Review,
    database,
    event_count,
    fresh_review,
    metric,
    patient_collector,
    post_at_once,
    stored_uids,
)
from .load import reviews as supply

# Values of every JSON type, for the typed fields of `options` (the reproducer first).
HOSTILE_OPTIONS: list[dict[str, Any]] = [
    {"fieldManager": 2**63},
    {"fieldManager": 2**64 - 1},
    {"fieldManager": -(2**63) - 1},
    {"fieldManager": {"a": 1}},
    {"fieldManager": ["kubectl"]},
    {"fieldManager": True},
    {"fieldManager": 1.5},
    {"gracePeriodSeconds": 2**63},
    {"gracePeriodSeconds": "30"},
    {"gracePeriodSeconds": 30.0},
    {"gracePeriodSeconds": True},
    {"dryRun": "All"},
    {"dryRun": [1]},
    {"force": "true"},
    {"propagationPolicy": {"x": []}},
    {"preconditions": []},
    {"preconditions": {"uid": 7}},
    {"fieldValidation": None, "orphanDependents": 0},
]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with patient_collector(tmp_path_factory.mktemp("hostile") / "data") as process:
        yield process


def with_options(review: Review, options: dict[str, Any]) -> Review:
    review["request"]["options"] = options
    return review


def ready(collector: CollectorProcess) -> bool:
    with collector.client() as client:
        return client.get("/readyz").status_code == 200


def test_hostile_options_fail_alone_in_concurrent_groups(collector: CollectorProcess) -> None:
    """300 concurrent reviews, the hostile ones among them: each hostile one is a JSON 400
    naming its field, every valid one is stored, and nothing is dropped."""
    valid = [next(supply()) for _ in range(300 - len(HOSTILE_OPTIONS))]
    hostile = [with_options(next(supply()), options) for options in HOSTILE_OPTIONS]
    # Spread through the valid ones, so that each lands in a group of its own.
    mixed = list(valid)
    for at, body in enumerate(hostile):
        mixed.insert(at * 16, body)
    bad = {body["request"]["uid"] for body in hostile}
    answers = asyncio.run(post_at_once(collector, mixed))
    stored = stored_uids(database(collector))
    for body, (status, _, answer) in zip(mixed, answers, strict=True):
        if body["request"]["uid"] in bad:
            assert status == 400, answer
            assert answer["field"].startswith("request.options."), answer
            assert answer["field"] in answer["detail"]
            assert body["request"]["uid"] not in stored
        else:
            assert status == 200
            assert answer["response"]["allowed"] is True
            assert body["request"]["uid"] in stored
    assert metric(collector, "logistis_events_dropped_total") == 0
    assert ready(collector)
    # The writer still commits: a review after them is stored.
    follow = next(supply())
    [(status, _, _)] = asyncio.run(post_at_once(collector, [follow]))
    assert status == 200
    assert follow["request"]["uid"] in stored_uids(database(collector))


def test_null_and_valid_option_values_are_recorded(collector: CollectorProcess) -> None:
    options = {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "gracePeriodSeconds": 2**63 - 1,
        "propagationPolicy": "Foreground",
        "preconditions": {"uid": "u", "resourceVersion": None},
        "dryRun": [],
        "fieldManager": None,
        "someFutureField": {"anything": [1, 2.5, None]},
    }
    review = with_options(next(supply()), options)
    [(status, _, answer)] = asyncio.run(post_at_once(collector, [review]))
    assert status == 200, answer
    assert review["request"]["uid"] in stored_uids(database(collector))


def encoded(body: bytes, encoding: str) -> tuple[bytes, str]:
    """The body compressed, and the Content-Encoding that names it."""
    if encoding == "gzip":
        return gzip.compress(body), encoding
    if encoding == "deflate":
        return zlib.compress(body), encoding
    if encoding == "raw deflate":
        # What some clients send as `deflate`: the stream without its zlib header.
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(body) + packer.flush(), "deflate"
    return body, encoding


def post_raw(
    collector: CollectorProcess, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    with collector.webhook_client() as client:
        return client.post(
            collector.webhook_url,
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )


@pytest.mark.parametrize(
    ("encoding", "content", "status"),
    [
        ("deflate", b'{"kind": "AdmissionReview"}', 400),
        ("deflate", zlib.compress(b"x" * 100)[:-3], 400),
        ("gzip", b"\x1f\x8b not gzip at all", 400),
        ("gzip", gzip.compress(b"{}") + b"trailing", 400),
        ("br", b"\x0b\x02\x80{}\x03", 415),
        ("zstd", b"(\xb5/\xfd", 415),
        ("compress", b"{}", 415),
        ("gzip, gzip", b"{}", 415),
        # A small body that expands past the 3 MiB limit: refused, never inflated in full.
        ("gzip", gzip.compress(b" " * (64 * 2**20)), 413),
    ],
    ids=["deflate-plain", "deflate-cut", "gzip-garbage", "gzip-trailing", "br", "zstd",
         "compress", "stacked", "gzip-bomb"],
)  # fmt: skip
def test_bad_payload_encodings_are_a_json_4xx(
    collector: CollectorProcess, encoding: str, content: bytes, status: int
) -> None:
    before = event_count(database(collector))
    answer = post_raw(collector, content, {"Content-Encoding": encoding})
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]
    assert event_count(database(collector)) == before


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate", "identity", "GZip"])
def test_encoded_reviews_are_recorded(collector: CollectorProcess, encoding: str) -> None:
    review = next(supply())
    content, name = encoded(orjson.dumps(review), encoding.lower())
    answer = post_raw(
        collector, content, {"Content-Encoding": name if encoding.islower() else encoding}
    )
    assert answer.status_code == 200, answer.text
    assert review["request"]["uid"] in stored_uids(database(collector))


def deep_review(levels: int) -> bytes:
    """A review whose object holds a value `levels` deep; the body is then `levels + 2` deep
    (the body, the request, the object, and the value's own levels)."""
    review = fresh_review(next(supply()))
    review["request"]["object"] = {"metadata": {"name": "deep"}, "deep": "@@deep@@"}
    deep = b'{"n": ' * (levels - 1) + b'"bottom"' + b"}" * (levels - 1)
    return orjson.dumps(review).replace(b'"@@deep@@"', deep)


@pytest.mark.parametrize("levels", [1, 100, 252])
def test_deep_objects_within_the_limit_are_recorded(
    collector: CollectorProcess, levels: int
) -> None:
    content = deep_review(levels)
    answer = post_raw(collector, content, {})
    assert answer.status_code == 200, answer.text
    assert orjson.loads(content)["request"]["uid"] in stored_uids(database(collector))


# 253 to 1020 were answered allowed and silently not stored; from 1021 (a body past the
# parser's 1024) they were called malformed.
@pytest.mark.parametrize("levels", [253, 300, 1020, 1021, 1030, 5000])
def test_deeper_objects_get_one_answer_at_every_depth(
    collector: CollectorProcess, levels: int
) -> None:
    before = event_count(database(collector))
    answer = post_raw(collector, deep_review(levels), {})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == "body is nested deeper than 254 levels"
    assert event_count(database(collector)) == before
