"""Type-confused reviews, from the real fixtures, over every field path, sent among valid ones.

Whatever the confused field, the answer is a JSON 400 naming a typed field or `allowed: true`
with the event stored; never a 5xx, never `allowed: false`. The valid reviews sent at the same
moment (sharing the writer's groups with it) are all stored, and the collector stays ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.collector import CollectorProcess

from .hostile import Path, type_confused
from .load import Review, database, patient_collector, post_at_once, reviews, stored_uids
from .scale import knob, report

EXAMPLES = knob("fuzz_examples", 60)
ALONGSIDE = 3
FREE_FORM = (("object",), ("oldObject",))
cases = {"refused": 0, "recorded": 0}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    try:
        with patient_collector(tmp_path_factory.mktemp("confusion") / "data") as process:
            yield process
    finally:
        report("type-confused reviews refused", cases["refused"])
        report("type-confused reviews recorded", cases["recorded"])


async def ready(collector: CollectorProcess) -> bool:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{collector.api_url}/readyz") as response,
    ):
        return response.status == 200


def uid_of(review: Review) -> str | None:
    request = review.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) else None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(confused=type_confused())
def test_type_confused_reviews_never_cost_another_its_record(
    collector: CollectorProcess, confused: tuple[Review, Path]
) -> None:
    review, path = confused
    supply = reviews()
    valid = [next(supply) for _ in range(ALONGSIDE)]
    (status, content_type, answer), *others = asyncio.run(post_at_once(collector, [review, *valid]))
    assert content_type == "application/json"
    assert status in (200, 400), (path, status, answer)
    stored = stored_uids(database(collector))
    if status == 400:
        assert answer["field"], answer
        # Inside an object anything goes: only the envelope and the options are typed.
        assert path[1:2] not in FREE_FORM or len(path) == 2, (path, answer)
        assert uid_of(review) not in stored
        cases["refused"] += 1
    else:
        assert answer["response"]["allowed"] is True
        assert review["request"]["uid"] in stored, path
        cases["recorded"] += 1
    for body, (other_status, _, other) in zip(valid, others, strict=True):
        assert other_status == 200
        assert other["response"]["allowed"] is True
        assert body["request"]["uid"] in stored
    assert asyncio.run(ready(collector))
    # A valid review after it is committed: the writer is still there.
    after = next(supply)
    [(after_status, _, _)] = asyncio.run(post_at_once(collector, [after]))
    assert after_status == 200
    assert after["request"]["uid"] in stored_uids(database(collector))
