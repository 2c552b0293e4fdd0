"""How an event's objects are packed into one compressed blob.

The objects are compressed with a zstd dictionary trained on Kubernetes objects (shipped as
`codec-dictionary-N.json`, made by `tools/train_dictionary.py`): most of a small JSON object is
field names and values every object of its kind repeats, which a dictionary holds once for
all. The new object comes first and the old one after it in the same frame, so an UPDATE
(whose two objects differ in a few fields) costs little more than one object.

The first byte is the format version; versions 2 and 3 name their dictionary in the second
byte. Version 3 is one frame: the new object, then the old one and the options. Every version
ever written stays readable.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.resources
import threading
from functools import cache
from typing import Any

import orjson
import zstandard

from logistis.collector.errors import CollectorError
from logistis.collector.history.events import json_bytes

FORMAT_V1 = 1
FORMAT_V2 = 2
FORMAT_V3 = 3
DICTIONARY_ID = 1
_LEVEL = 6
_LENGTHS = 8


class CodecError(CollectorError, ValueError):
    """A blob that this version cannot read."""


@cache
def _dictionary(number: int) -> zstandard.ZstdCompressionDict:
    resource = importlib.resources.files("logistis.collector.store").joinpath(
        f"codec-dictionary-{number}.json"
    )
    try:
        data = orjson.loads(resource.read_bytes())
    except FileNotFoundError:
        raise CodecError(f"object compressed with unknown dictionary {number}") from None
    dictionary = zstandard.ZstdCompressionDict(base64.b64decode(data["dictionary"]))
    dictionary.precompute_compress(level=_LEVEL)
    return dictionary


# A compressor keeps state between calls: one per thread, built once, not one per blob. So do
# the decompressors, one per dictionary (building one took ~13 µs of a blob's ~45 to decode).
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = zstandard.ZstdCompressor(
            level=_LEVEL, dict_data=_dictionary(DICTIONARY_ID), write_dict_id=False
        )
        _local.compressor = compressor
    return compressor


def _decompressor(number: int) -> zstandard.ZstdDecompressor:
    decompressors: dict[int, zstandard.ZstdDecompressor] | None = getattr(
        _local, "decompressors", None
    )
    if decompressors is None:
        decompressors = _local.decompressors = {}
    decompressor = decompressors.get(number)
    if decompressor is None:
        decompressor = decompressors[number] = zstandard.ZstdDecompressor(
            dict_data=_dictionary(number)
        )
    return decompressor


def encode(new: Any, old: Any, options: Any) -> bytes:
    """The blob of an event's objects; an object still `RawJSON` is kept as the bytes it came
    in, never decoded and encoded again."""
    # One frame with one reused compressor: the old object finds the new one in the window,
    # as a separate raw-content dictionary let it before (format 2) at twice the CPU.
    new_bytes = json_bytes(new)
    rest = b"[" + json_bytes(old) + b"," + orjson.dumps(options) + b"]"
    packed = _compressor().compress(new_bytes + rest)
    return bytes([FORMAT_V3, DICTIONARY_ID]) + len(new_bytes).to_bytes(4, "big") + packed


def plain_size(blob: bytes) -> int:
    """The bytes of JSON a body holds, from its frame's header: what decoding it costs in
    memory, whatever it compresses to. A body of an older format counts as its own length."""
    if blob[:1] == bytes([FORMAT_V3]):
        with contextlib.suppress(zstandard.ZstdError):
            size = zstandard.frame_content_size(blob[6:])
            if size >= 0:
                return size
    return len(blob)


def decode(blob: bytes) -> tuple[Any, Any, Any]:
    """Returns (object, oldObject, options)."""
    version = blob[:1]
    if version == bytes([FORMAT_V1]):
        return _decode_v1(memoryview(blob)[1:])
    if version not in (bytes([FORMAT_V2]), bytes([FORMAT_V3])) or len(blob) < 6:
        raise CodecError(f"unknown object format {version!r}")
    trained = _decompressor(blob[1])
    length = int.from_bytes(blob[2:6], "big")
    if version == bytes([FORMAT_V2]):
        return _decode_v2(trained, length, memoryview(blob)[6:])
    plain = trained.decompress(blob[6:])
    old, options = orjson.loads(plain[length:])
    return orjson.loads(plain[:length]), old, options


def _decode_v2(
    trained: zstandard.ZstdDecompressor, new_len: int, packed: memoryview
) -> tuple[Any, Any, Any]:
    """Format 2: the new object's frame, then old object and options against it."""
    new_bytes = trained.decompress(packed[:new_len])
    old, options = orjson.loads(_decompressor_with(new_bytes).decompress(packed[new_len:]))
    return orjson.loads(new_bytes), old, options


def _decode_v1(packed: memoryview) -> tuple[Any, Any, Any]:
    """Format 1: three frames, the old object's against the new one, the others plain."""
    plain = zstandard.ZstdDecompressor()
    new_packed, old_packed, options_packed = _parts(packed)
    new_bytes = plain.decompress(new_packed)
    old_bytes = _decompressor_with(new_bytes).decompress(old_packed)
    return (
        orjson.loads(new_bytes),
        orjson.loads(old_bytes),
        orjson.loads(plain.decompress(options_packed)),
    )


def _parts(packed: memoryview) -> tuple[memoryview, memoryview, memoryview]:
    new_len = int.from_bytes(packed[0:4], "big")
    old_len = int.from_bytes(packed[4:_LENGTHS], "big")
    body = packed[_LENGTHS:]
    return body[:new_len], body[new_len : new_len + old_len], body[new_len + old_len :]


def _decompressor_with(content: bytes) -> zstandard.ZstdDecompressor:
    dictionary = zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary)
