"""Durations (`15m`, `36h`, `30d`) and sizes (`500MiB`, `2GB`) as people write them."""

from __future__ import annotations

import re
from datetime import timedelta

_SIZE = re.compile(r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20,
    "gb": 10**9, "gib": 2**30, "tb": 10**12, "tib": 2**40,
}  # fmt: skip
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_size(value: str) -> int:
    match = _SIZE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a size like 500MiB or 2GB")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def parse_duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration like 90m, 36h or 30d")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})
