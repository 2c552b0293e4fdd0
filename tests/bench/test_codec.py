"""The object codec: every format ever written stays readable; the current one is smallest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
import zstandard

from logistis.collector.store import codec
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


def version_2_blob(new: Any, old: Any, options: Any) -> bytes:
    """A blob as format 2 wrote it: the new object with the trained dictionary, then old
    object and options in a frame of their own against the new one."""
    new_bytes = orjson.dumps(new)
    raw = zstandard.ZstdCompressionDict(new_bytes, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    trained = codec._dictionary(codec.DICTIONARY_ID)
    packed_new = zstandard.ZstdCompressor(level=6, dict_data=trained, write_dict_id=False)
    packed_new_bytes = packed_new.compress(new_bytes)
    packed_rest = zstandard.ZstdCompressor(level=6, dict_data=raw).compress(
        orjson.dumps([old, options])
    )
    header = bytes([2, codec.DICTIONARY_ID]) + len(packed_new_bytes).to_bytes(4, "big")
    return header + packed_new_bytes + packed_rest


def test_every_fixture_round_trips() -> None:
    for triple in triples():
        blob = codec.encode(*triple)
        assert blob[:2] == bytes([codec.FORMAT_V3, codec.DICTIONARY_ID])
        assert codec.decode(blob) == triple


@pytest.mark.parametrize("older", [version_1_blob, version_2_blob])
def test_older_blobs_stay_readable(older: Callable[..., bytes]) -> None:
    for triple in triples():
        assert codec.decode(older(*triple)) == triple


def test_each_format_is_smaller_than_the_one_before() -> None:
    data = triples()
    sizes = [sum(len(write(*t)) for t in data) for write in (version_1_blob, version_2_blob)]
    version_3 = sum(len(codec.encode(*t)) for t in data)
    assert version_3 < sizes[1] < sizes[0] / 2


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "unknown object format"),
        (b"\x07rest", "unknown object format"),
        (b"\x02", "unknown object format"),
        (b"\x03\x01", "unknown object format"),
        (b"\x02\x09" + bytes(8), "unknown dictionary 9"),
    ],
)
def test_unreadable_blobs_are_named(blob: bytes, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode(blob)
