"""The compiled pass over a review's envelope reads every body as reading it whole does.

`read_review` decodes the envelope with msgspec and keeps the objects as the JSON they came
in; a body that pass does not take is read whole, which words the 400. Whichever way a body
goes, the answer (the same 400, or the same event after redaction, objects decoded) must be
the one the whole reading gives: checked on every captured review and on the hostile bodies
of the fuzz tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logistis.collector.admission.kinds import KindResolver
from logistis.collector.admission.redaction import Redactor
from logistis.collector.admission.review import InvalidReview, event_from_request, read_review
from logistis.collector.history.events import RawJSON, json_value
from tests.reliability.hostile import broken_reviews, odd_reviews, type_confused
from tests.support.fixtures import bodies

REDACTOR = Redactor(b"test key")
MOMENT = datetime(2026, 12, 6, tzinfo=UTC)


def outcome(raw: bytes, *, whole: bool) -> Any:
    """The 400 a body gets, or the event the collector records from it (or what redacting
    it raises: the webhook then allows it unrecorded)."""
    try:
        review = read_review(raw, whole=whole)
    except InvalidReview as error:
        return ("400", str(error), error.field)
    try:
        request = REDACTOR.redact(review.request)
    except ValueError as error:
        return ("not recorded", repr(error))
    event = event_from_request(request, MOMENT, KindResolver())
    event.object, event.old_object = json_value(event.object), json_value(event.old_object)
    return review.api_version, event


def assert_read_alike(raw: bytes) -> None:
    assert outcome(raw, whole=False) == outcome(raw, whole=True)


def test_every_captured_review_reads_alike_and_keeps_its_objects_undecoded():
    kept = 0
    for body in bodies():
        raw = orjson.dumps(body)
        assert_read_alike(raw)
        kept += isinstance(read_review(raw).request.get("object"), RawJSON)
    # All but the few with more brackets than the depth limit (and those without an object).
    assert kept > 150


NUMBERS = [
    b"1e400",
    b"-1.5E+309",
    b"1" * 400,
    b"1" * 250 + b"e99",
    b"0." + b"1" * 400,
    b"1e-999",
    b"12e12",
    b"1e99",
]


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("where", ["object", "options"])
def test_numbers_past_a_double_are_refused_alike(number: bytes, where: str):
    body = orjson.dumps(bodies()[0])
    value = b'{"spec":{"n":%s}}' % number if where == "object" else b'{"x":%s}' % number
    raw = body.replace(b'"request":{', b'"request":{"%s":%s,' % (where.encode(), value), 1)
    assert_read_alike(raw)


@pytest.mark.parametrize(
    "text",
    [
        b'"\xff"',
        b'"\\ud800"',
        b'"\\udc00x"',
        b'"\\ud800\\u0041"',
        b'"a\\x"',
        b'"\x01"',
        b"1.",
        b"-",
    ],
)
def test_text_the_compiled_pass_skips_is_refused_alike(text: bytes):
    raw = orjson.dumps(bodies()[0]).replace(b'"request":{', b'"request":{"object":{"a":%s},' % text)
    assert_read_alike(raw)


def test_a_big_integer_in_the_options_is_kept_as_the_whole_reading_keeps_it():
    raw = orjson.dumps(bodies()[0]).replace(
        b'"request":{', b'"request":{"options":{"x":123456789012345678901234567890},', 1
    )
    assert_read_alike(raw)


FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@FUZZ
@given(
    st.one_of(broken_reviews, odd_reviews, type_confused().map(lambda c: json.dumps(c[0]).encode()))
)
def test_hostile_bodies_read_alike(raw: bytes):
    assert_read_alike(raw)
