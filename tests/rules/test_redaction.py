"""Secret values from the real requests never survive redaction; digests stay comparable."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from logistis.collector.admission.redaction import LAST_APPLIED, Redactor
from tests.support.secret_shapes import SHAPES, odd_reviews, odd_values

from .conftest import Request

SECRETS = (145, 146, 147, 222, 223)
KEY = b"0123456789abcdef0123456789abcdef"
DIGEST = re.compile(r"^redacted:sha256:[0-9a-f]{16}$")


def objects(request: Request) -> Iterator[dict[str, Any]]:
    """The request's objects, and the manifests kept in their last-applied annotations."""
    for name in ("object", "oldObject"):
        obj = request.get(name)
        if obj is None:
            continue
        yield obj
        annotation = obj["metadata"].get("annotations", {}).get(LAST_APPLIED)
        if annotation is not None:
            yield json.loads(annotation)


def sent_values(request: Request) -> set[str]:
    """Every value of the Secret as sent: base64 `data`, plain `stringData`."""
    return {
        value
        for manifest in objects(request)
        for field in ("data", "stringData")
        for value in (manifest.get(field) or {}).values()
    }


def decoded_values(request: Request) -> set[str]:
    return {
        base64.b64decode(value).decode()
        for manifest in objects(request)
        for value in (manifest.get("data") or {}).values()
    }


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, last-applied annotations parsed too."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == LAST_APPLIED:
                yield from strings(json.loads(item))
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def digests(manifest: dict[str, Any]) -> dict[str, str]:
    return {**(manifest.get("data") or {}), **(manifest.get("stringData") or {})}


@pytest.mark.parametrize("number", SECRETS)
def test_no_secret_value_survives(requests: dict[int, Request], number: int) -> None:
    original = requests[number]
    sent = sent_values(original)
    assert sent, "the fixture holds secret values"
    assert sent <= set(strings(original))
    values = sent | decoded_values(original)
    redacted = Redactor(KEY).redact(original)
    after = set(strings(redacted))
    text = json.dumps(redacted)
    for value in values:
        assert value not in after
        # Short values ("app") occur inside unrelated words; long ones must not occur at all.
        if len(value) >= 8:
            assert value not in text
    for manifest in objects(redacted):
        for digest in digests(manifest).values():
            assert DIGEST.match(digest)


def test_original_requests_are_not_modified(requests: dict[int, Request]) -> None:
    originals = {n: copy.deepcopy(requests[n]) for n in SECRETS}
    redactor = Redactor(KEY)
    for n in SECRETS:
        redactor.redact(requests[n])
        assert requests[n] == originals[n]


def test_other_requests_come_back_untouched(requests: dict[int, Request]) -> None:
    redactor = Redactor(KEY)
    for n, request in requests.items():
        if n not in SECRETS:
            assert redactor.redact(request) is request


def test_digests_are_stable_and_equal_for_equal_values(requests: dict[int, Request]) -> None:
    redactor = Redactor(KEY)
    created = redactor.redact(requests[145])["object"]
    updated = redactor.redact(requests[146])
    assert redactor.redact(requests[145]) == Redactor(KEY).redact(requests[145])
    # 146 changes the password only: the diff shows that, and nothing else.
    new, old = updated["object"]["data"], updated["oldObject"]["data"]
    assert new["apikey"] == old["apikey"] == created["data"]["apikey"]
    assert new["username"] == old["username"]
    assert new["password"] != old["password"]
    assert old["password"] == created["data"]["password"]
    # stringData in last-applied digests like the same value, base64-encoded, in data.
    applied = json.loads(created["metadata"]["annotations"][LAST_APPLIED])
    assert applied["stringData"]["password"] == created["data"]["password"]
    assert applied["stringData"]["username"] == created["data"]["username"]
    # The token created in 147 is the one deleted with the namespace in 222.
    assert (
        redactor.redact(requests[147])["object"]["data"]
        == redactor.redact(requests[222])["oldObject"]["data"]
    )


def test_digest_depends_on_the_key(requests: dict[int, Request]) -> None:
    one = Redactor(KEY).redact(requests[147])["object"]["data"]["token"]
    other = Redactor(b"another key").redact(requests[147])["object"]["data"]["token"]
    assert one != other


def test_last_applied_keeps_its_shape(requests: dict[int, Request]) -> None:
    original = requests[145]["object"]["metadata"]["annotations"][LAST_APPLIED]
    redacted = Redactor(KEY).redact(requests[145])["object"]["metadata"]["annotations"][
        LAST_APPLIED
    ]
    assert redacted.endswith("}\n")
    assert ", " not in redacted
    before, after = json.loads(original), json.loads(redacted)
    assert after["metadata"] == before["metadata"]
    assert list(after) == list(before)
    assert after["data"].keys() == before["data"].keys()


def test_unparseable_last_applied_of_a_secret_is_replaced_whole(
    requests: dict[int, Request],
) -> None:
    request = copy.deepcopy(requests[145])
    annotations = request["object"]["metadata"]["annotations"]
    annotations[LAST_APPLIED] = annotations[LAST_APPLIED][:-20]
    redacted = Redactor(KEY).redact(request)
    assert DIGEST.match(redacted["object"]["metadata"]["annotations"][LAST_APPLIED])
    assert "hunter2-PLAINTEXT" not in json.dumps(redacted)


def test_secret_manifest_in_another_objects_last_applied(requests: dict[int, Request]) -> None:
    """A Secret manifest in the last-applied annotation of some other object is redacted too."""
    request = copy.deepcopy(requests[171])
    secret_manifest = requests[145]["object"]["metadata"]["annotations"][LAST_APPLIED]
    request["object"]["metadata"].setdefault("annotations", {})[LAST_APPLIED] = secret_manifest
    redacted = Redactor(KEY).redact(request)
    assert "hunter2-PLAINTEXT" not in json.dumps(redacted)
    assert redacted["object"]["spec"] is request["object"]["spec"]


@pytest.mark.parametrize("review", odd_reviews(), ids=list(SHAPES))
def test_a_secret_in_any_other_shape_is_digested_whole(review: dict[str, Any]) -> None:
    """Only a Secret manifest is redacted in place; whatever else holds a Secret is not
    understood, so it is hidden whole."""
    redacted = Redactor(KEY).redact(review["request"])
    kept = json.dumps(redacted)
    assert not [value for value in odd_values() if value in kept]
    # Whole, or (a manifest of kind Secret however spelled) value by value.
    assert "redacted:sha256:" in redacted["object"]["metadata"]["annotations"][LAST_APPLIED]


@pytest.mark.parametrize(
    "annotation",
    [
        # Go's JSON encoder writes <, > and & as escapes.
        '{"apiVersion":"v1","data":{"run":"a \\u0026\\u0026 b"},"kind":"ConfigMap"}\n',
        '{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","spec":{}}\n',
    ],
)
def test_an_annotation_that_holds_no_secret_is_kept_as_it_is(
    requests: dict[int, Request], annotation: str
) -> None:
    request = copy.deepcopy(requests[171])
    request["object"]["metadata"].setdefault("annotations", {})[LAST_APPLIED] = annotation
    redacted = Redactor(KEY).redact(request)
    assert redacted["object"]["metadata"]["annotations"][LAST_APPLIED] is annotation


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        Redactor(b"")


def test_a_data_value_that_is_not_ascii_is_digested_as_it_is(
    requests: dict[int, Request],
) -> None:
    # The apiserver refuses it, but an earlier admission step or a forged review can carry
    # it: base64 decoding refuses non-ASCII text with a ValueError, not binascii.Error.
    request = copy.deepcopy(requests[147])
    request["object"]["data"]["token"] = "pässwörd-PLAINTEXT"
    redacted = Redactor(KEY).redact(request)
    assert DIGEST.match(redacted["object"]["data"]["token"])
    assert "PLAINTEXT" not in json.dumps(redacted)
