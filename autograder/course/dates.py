"""Times in course files and submission records: ISO 8601, always with a time zone."""

from __future__ import annotations

import datetime as dt


def aware(value: dt.datetime) -> dt.datetime:
    """`value` with a time zone (UTC when it has none)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time ('Z' allowed) as an aware datetime; ValueError when it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return aware(dt.datetime.fromisoformat(value))
