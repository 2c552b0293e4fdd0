"""Redaction: Secret values never reach the store.

Every value of a Secret's `data` and `stringData`, in the object itself and in the copy that
`kubectl apply` keeps in the `kubectl.kubernetes.io/last-applied-configuration` annotation,
is replaced by `redacted:sha256:<16 hex digits>`, an HMAC of the value under a key that
never leaves the collector. Equal values give equal digests, so a diff still shows which
key changed, and a value sent as `stringData` digests like the same value in `data`
(whose base64 is decoded first); without the key nobody can test guesses against them.

The annotation is text anyone may write. Only the one Secret manifest kubectl writes there is
redacted value by value; an annotation that holds a Secret in any other shape (a List or an
array of Secrets, a JSON string literal, a manifest nested in another, invalid JSON) is not
fully understood, so it is replaced whole by one digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import orjson

from logistis.collector.history.events import RawJSON

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DIGEST_PREFIX = "redacted:sha256:"
SECRET_FIELDS = ("data", "stringData")


class Redactor:
    """Replaces Secret values in admission requests by stable keyed digests."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the redaction key must not be empty")
        self._key = key

    def digest(self, value: bytes) -> str:
        mac = hmac.new(self._key, value, hashlib.sha256).hexdigest()
        return DIGEST_PREFIX + mac[:16]

    def redact(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request with the Secret values of `object` and `oldObject` replaced.

        A request with nothing to redact comes back as it is (not copied); otherwise only
        the parts that change are copied, and the caller's request is never modified.
        """
        secret = _is_secret_request(request)
        redacted = {
            name: self._redact_object(obj, secret)
            for name in ("object", "oldObject")
            if (obj := request.get(name)) is not None
        }
        changed = {name: obj for name, obj in redacted.items() if obj is not request[name]}
        if not changed:
            return request if isinstance(request, dict) else dict(request)
        return {**request, **changed}

    def _redact_object(self, obj: Any, secret_request: bool) -> Any:
        if isinstance(obj, RawJSON):
            if not secret_request and not _may_name_secret(obj.json):
                return obj
            obj = orjson.loads(obj.json)
        if not isinstance(obj, Mapping):
            return obj
        secret = secret_request or _is_secret(obj)
        annotation = _last_applied(obj)
        redacted_annotation = (
            self._redact_last_applied(annotation, secret) if annotation is not None else None
        )
        if not secret and redacted_annotation is annotation:
            return obj
        copy = {**obj}
        if secret:
            copy.update(self._redact_values(obj))
        if redacted_annotation is not annotation:
            metadata = obj["metadata"]
            annotations = {**metadata["annotations"], LAST_APPLIED: redacted_annotation}
            copy["metadata"] = {**metadata, "annotations": annotations}
        return copy

    def _redact_values(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Redacted copies of the `data` and `stringData` a Secret manifest has."""
        return {
            field: self._redact_map(manifest[field], decode=field == "data")
            for field in SECRET_FIELDS
            if manifest.get(field) is not None
        }

    def _redact_map(self, values: Any, *, decode: bool) -> Any:
        if not isinstance(values, Mapping):
            # Not the map a valid Secret has: hide it whole rather than guess.
            return self.digest(_canonical(values))
        return {key: self._redact_value(value, decode=decode) for key, value in values.items()}

    def _redact_value(self, value: Any, *, decode: bool) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            return self.digest(_canonical(value))
        return self.digest(_decoded(value) if decode else value.encode())

    def _redact_last_applied(self, annotation: Any, secret: bool) -> Any:
        """The annotation with the Secret values inside replaced; the same object when it
        holds no Secret. Only the shape kubectl writes, one Secret manifest, is redacted in
        place: a Secret in any other shape (a List or an array of them, a JSON string literal,
        invalid JSON, a manifest of another kind holding one) is digested whole."""
        if not isinstance(annotation, str):
            return self.digest(_canonical(annotation)) if secret else annotation
        # Cheap test first: this runs for every applied object, and few are Secrets.
        if not secret and not _may_spell_secret(annotation):
            return annotation
        try:
            return self._redact_manifest(annotation, secret)
        except (ValueError, RecursionError):
            # Not JSON, or nested past what the parser takes.
            return self.digest(annotation.encode())

    def _redact_manifest(self, annotation: str, secret: bool) -> str:
        manifest = json.loads(annotation)
        if not isinstance(manifest, dict):
            return self.digest(annotation.encode())
        if manifest.get("kind") == "Secret" and not _holds_secret(_besides_values(manifest)):
            manifest.update(self._redact_values(manifest))
            # kubectl writes compact JSON with a final newline; keep that shape.
            newline = "\n" if annotation.endswith("\n") else ""
            return json.dumps(manifest, separators=(",", ":"), ensure_ascii=False) + newline
        if not secret and not _holds_secret(manifest):
            return annotation
        return self.digest(annotation.encode())


def _is_secret_request(request: Mapping[str, Any]) -> bool:
    resource = request.get("resource") or {}
    kind = request.get("kind") or {}
    return (resource.get("group") == "" and resource.get("resource") == "secrets") or (
        kind.get("group") == "" and kind.get("kind") == "Secret"
    )


def _is_secret(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1"


def _may_spell_secret(text: str) -> bool:
    """Whether JSON text may name a Secret: JSON spells a word literally or with \\u escapes
    (`"Secr\\u0065t"`), and in JSON nested as a string its opening quote is escaped
    (`\\"Secret\\"`). A kind such as `"ExternalSecret"` does not match."""
    return '"Secret' in text or "\\u" in text


def _may_name_secret(raw: bytes) -> bool:
    """Whether an object's JSON may hold anything redaction replaces, without decoding it: a
    Secret names its kind, literally or with a \\u escape, and so does any annotation text
    that `_may_spell_secret` would let through (its quote escaped, its escapes doubled)."""
    return b"Secret" in raw or b"\\u" in raw


def _holds_secret(value: Any) -> bool:
    """Whether a Secret may be inside parsed JSON, at any depth: a value `Secret` (a kind,
    however its key is spelled) or text that may be JSON naming one."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and (item == "Secret" or _may_spell_secret(item)):
            return True
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _besides_values(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret manifest without its kind and the values that redaction replaces."""
    return {k: v for k, v in manifest.items() if k not in (*SECRET_FIELDS, "kind")}


def _last_applied(obj: Mapping[str, Any]) -> Any:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None


def _decoded(value: str) -> bytes:
    """A `data` value's bytes; a value that is not base64 is digested as it is."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII
        return value.encode()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
