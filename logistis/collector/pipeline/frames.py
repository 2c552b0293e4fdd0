"""Messages between the collector's own processes: each a frame, its length in 4 bytes, then a
msgpack array whose first item names it.

Only the collector's processes are at either end (a socket in a directory of its owner's alone,
or a pipe to its child), so a frame is trusted as it is read.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import msgspec

READ_BYTES = 2**18
_LENGTH = struct.Struct(">I")
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode

Messages = AsyncIterator[list[Any]]


def frame(message: list[Any]) -> bytes:
    data = _encode(message)
    return _LENGTH.pack(len(data)) + data


async def messages(reader: asyncio.StreamReader) -> Messages:
    """Each message as it arrives, until the end of the stream; every whole frame of a read
    is taken before the next read (under load, many)."""
    buffer = bytearray()
    try:
        while chunk := await reader.read(READ_BYTES):
            buffer += chunk
            start = 0
            while len(buffer) - start >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(buffer, start)
                end = start + _LENGTH.size + length
                if len(buffer) < end:
                    break
                with memoryview(buffer) as view:  # released before the buffer is cut
                    message: list[Any] = _decode(view[start + _LENGTH.size : end])
                yield message
                start = end
            del buffer[:start]
    except ConnectionError:
        return


def read_frame(descriptor: int) -> list[Any]:
    """One message read from a file descriptor, to its last byte and not one byte more."""
    (length,) = _LENGTH.unpack(_read_exactly(descriptor, _LENGTH.size))
    message: list[Any] = _decode(_read_exactly(descriptor, length))
    return message


def _read_exactly(descriptor: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(descriptor, size - len(data))
        if not chunk:
            raise EOFError("the stream ended inside a frame")
        data += chunk
    return bytes(data)
