"""Request bodies, read and decoded by the collector itself rather than by aiohttp.

aiohttp decodes `Content-Encoding` while it parses the request, before any handler runs: an
encoding it cannot decode (`br` without Brotli, `zstd`) became a plain-text 400 there, and a
body that is not what its encoding says a plain-text 500. The servers turn that off
(`auto_decompress=False`) and the body is decoded here, where every failure is a `BodyError`
that the edge answers as a JSON 4xx. The decoded size is bounded like the raw one, so a small
compressed body cannot expand into a large one.
"""

from __future__ import annotations

import zlib

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from logistis.collector.errors import CollectorError

# zlib's window bits for each encoding: a gzip header, or a zlib one (RFC 9110 `deflate`).
# Raw deflate streams, which some clients send as `deflate`, are tried when the zlib header
# is missing.
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
RAW_DEFLATE = -zlib.MAX_WBITS
IDENTITY = ("", "identity")


class BodyError(CollectorError):
    """The body cannot be read or decoded; `status` is the 4xx to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes either way."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in IDENTITY and encoding not in WBITS:
        raise BodyError(
            415, f"Content-Encoding {encoding!r} is not supported (identity, gzip, deflate)"
        )
    try:
        raw = await request.read()
    except (HttpProcessingError, RequestPayloadError) as error:
        # The peer broke the framing (a chunk size that is not hex, a body cut short).
        raise BodyError(400, f"the body cannot be read: {error}") from None
    if encoding in IDENTITY:
        return raw
    return decode(raw, encoding, limit)


def decode(raw: bytes, encoding: str, limit: int) -> bytes:
    try:
        return _inflate(raw, WBITS[encoding], limit)
    except zlib.error as error:
        if encoding != "deflate":
            raise BodyError(400, f"the body is not valid {encoding}: {error}") from None
    try:
        return _inflate(raw, RAW_DEFLATE, limit)
    except zlib.error as error:
        raise BodyError(400, f"the body is not valid deflate: {error}") from None


def _inflate(raw: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    decoded = inflater.decompress(raw, limit + 1)
    if len(decoded) > limit:
        raise BodyError(413, f"the decoded body is larger than {limit} bytes")
    if not inflater.eof:
        raise zlib.error("the compressed stream is cut short")
    if inflater.unused_data:
        raise zlib.error("bytes after the end of the compressed stream")
    return decoded
