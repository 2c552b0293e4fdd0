"""How an event's objects are packed into one compressed blob.

The new object is compressed on its own; the old object is compressed with the new one as a
raw-content dictionary, so an UPDATE (whose two objects differ in a few fields) costs little
more than one object. The first byte is the format version.
"""

from __future__ import annotations

from typing import Any

import orjson
import zstandard

FORMAT_V1 = 1
_LEVEL = 6


class CodecError(ValueError):
    """A blob that this version cannot read."""


def encode(new: Any, old: Any, options: Any) -> bytes:
    new_bytes = orjson.dumps(new)
    old_bytes = orjson.dumps(old)
    options_bytes = orjson.dumps(options)
    packed_new = zstandard.ZstdCompressor(level=_LEVEL).compress(new_bytes)
    packed_old = _compressor_with(new_bytes).compress(old_bytes)
    packed_options = zstandard.ZstdCompressor(level=_LEVEL).compress(options_bytes)
    header = bytes([FORMAT_V1]) + b"".join(
        len(part).to_bytes(4, "big") for part in (packed_new, packed_old)
    )
    return header + packed_new + packed_old + packed_options


def decode(blob: bytes) -> tuple[Any, Any, Any]:
    """Returns (object, oldObject, options)."""
    if not blob or blob[0] != FORMAT_V1:
        raise CodecError(f"unknown object format {blob[:1]!r}")
    new_len = int.from_bytes(blob[1:5], "big")
    old_len = int.from_bytes(blob[5:9], "big")
    body = memoryview(blob)[9:]
    new_bytes = zstandard.ZstdDecompressor().decompress(body[:new_len])
    old_bytes = _decompressor_with(new_bytes).decompress(body[new_len : new_len + old_len])
    options_bytes = zstandard.ZstdDecompressor().decompress(body[new_len + old_len :])
    return orjson.loads(new_bytes), orjson.loads(old_bytes), orjson.loads(options_bytes)


def _compressor_with(content: bytes) -> zstandard.ZstdCompressor:
    dictionary = zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(level=_LEVEL, dict_data=dictionary)


def _decompressor_with(content: bytes) -> zstandard.ZstdDecompressor:
    dictionary = zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary)
