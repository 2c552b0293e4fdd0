"""What a sink renders a message into: the body and headers of one POST to its URL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Request:
    body: bytes
    headers: dict[str, str]
