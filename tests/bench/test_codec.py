"""The object codec: every format ever written stays readable; version 2 is smaller."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import zstandard

from collector import codec
from tests.support.fixtures import bodies


def triples() -> list[tuple[Any, Any, Any]]:
    return [
        (r.get("object"), r.get("oldObject"), r.get("options"))
        for r in (body["request"] for body in bodies())
    ]


def version_1_blob(new: Any, old: Any, options: Any) -> bytes:
    """A blob as the first collector release wrote it: plain zstd, old against new."""
    new_bytes = orjson.dumps(new)
    raw = zstandard.ZstdCompressionDict(new_bytes, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    packed_new = zstandard.ZstdCompressor(level=6).compress(new_bytes)
    packed_old = zstandard.ZstdCompressor(level=6, dict_data=raw).compress(orjson.dumps(old))
    packed_options = zstandard.ZstdCompressor(level=6).compress(orjson.dumps(options))
    lengths = len(packed_new).to_bytes(4, "big") + len(packed_old).to_bytes(4, "big")
    return b"\x01" + lengths + packed_new + packed_old + packed_options


def test_every_fixture_round_trips() -> None:
    for triple in triples():
        blob = codec.encode(*triple)
        assert blob[:2] == bytes([codec.FORMAT_V2, codec.DICTIONARY_ID])
        assert codec.decode(blob) == triple


def test_version_1_blobs_stay_readable() -> None:
    for triple in triples():
        assert codec.decode(version_1_blob(*triple)) == triple


def test_the_dictionary_makes_blobs_smaller() -> None:
    data = triples()
    version_2 = sum(len(codec.encode(*t)) for t in data)
    version_1 = sum(len(version_1_blob(*t)) for t in data)
    assert version_2 < version_1 / 2


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "unknown object format"),
        (b"\x07rest", "unknown object format"),
        (b"\x02", "unknown object format"),
        (b"\x02\x09" + bytes(8), "unknown dictionary 9"),
    ],
)
def test_unreadable_blobs_are_named(blob: bytes, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode(blob)
