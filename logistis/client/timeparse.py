"""Times as operators type them: RFC 3339 (`2026-11-25T10:00:00Z`), a date, or a duration
back from now (`90s`, `15m`, `2h`, `7d`, `1h30m`), the forms the collector's filters take."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class BadTime(ValueError):
    """Neither a time nor a duration; `str()` says what was given and what is accepted."""


def parse_duration(text: str) -> timedelta | None:
    """`2h` -> 2 hours; None if `text` is not a duration."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An absolute UTC time for `text`; a duration counts back from `now`."""
    duration = parse_duration(text)
    if duration is not None:
        return (now or datetime.now(UTC)) - duration
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTime(
            f"{text!r} is not a time: use RFC 3339 (2026-11-25T10:00:00Z) or a duration (15m, 2h, 7d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """`2026-11-25T10:00:00Z`: UTC to the second, as kubectl prints timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_precise(moment: datetime) -> str:
    """`2026-11-25T10:00:00.214Z`: to the millisecond, as the collector stamps events."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
