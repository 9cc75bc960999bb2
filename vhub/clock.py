"""The moment a scheduled job is for, the UK day around it, and times as people read them ("01/12/2026 07:45 GMT")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from vhub.models import LONDON


def moment(at: str | None) -> datetime:
    """The moment a job is for: the ISO time its schedule fired for, or now (run by hand)."""
    if not at:
        return datetime.now(UTC)
    value = datetime.fromisoformat(at)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def uk_day(value: datetime) -> date:
    return value.astimezone(LONDON).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UK day ``day`` from its first moment up to (not including) the next day's, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON)
    return start.astimezone(UTC), end.astimezone(UTC)


def uk_at(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour``:``minute`` by the UK clock on ``day``, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def uk_time(value: datetime | None, *, empty: str = "-") -> str:
    """A time as UK staff read it, with the zone and no seconds: "01/12/2026 07:45 GMT" (or BST)."""
    if value is None:
        return empty
    local = value.astimezone(LONDON)
    return f"{local:%d/%m/%Y %H:%M} {local.tzname()}"
