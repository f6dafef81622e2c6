"""A lab's lifecycle tags: expiry, budget, protection and the teardown marker (the cloud is the state).

All of them live on the lab's switch (`<lab>-switch`); expiry and budget are also copied onto every
resource provision creates, so a lab whose switch is gone still says when it expires.

- `swarmlab-expires=<UTC>`          the lab may be torn down by the cost guard after this time
- `swarmlab-budget=<yen>`           the guard tears the lab down before its accrued cost crosses this
- `swarmlab-protect-until=<UTC>`    the guard never tears the lab down before this time (put it on the
                                    switch by hand, like cloud-nuke's `cloud-nuke-after`)
- `swarmlab-teardown=<UTC>`         a teardown started at this time; provision refuses to adopt the lab

Times are UTC `%Y-%m-%dT%H:%MZ` (seconds `%Y-%m-%dT%H:%M:%SZ` are read too).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from swarmlab.spec import LAB_TAG

LAB_PREFIX = f"{LAB_TAG}-lab="
EXPIRES_PREFIX = f"{LAB_TAG}-expires="
BUDGET_PREFIX = f"{LAB_TAG}-budget="
PROTECT_PREFIX = f"{LAB_TAG}-protect-until="
TEARDOWN_PREFIX = f"{LAB_TAG}-teardown="
TIME_FORMATS = ("%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%SZ")


class LabRetired(RuntimeError):
    """provision was asked to adopt a lab that is expired or being torn down (never retried)."""


class LabExpired(LabRetired):
    def __init__(self, lab: str, expired_at: datetime):
        self.lab, self.expired_at = lab, expired_at
        super().__init__(f"lab {lab} expired at {fmt_time(expired_at)} and is left for the cost guard to tear down; "
                         f"run teardown_lab {lab} (or wait for cost_guard), then provision again, or use another name")


class LabTearingDown(LabRetired):
    def __init__(self, lab: str, since: datetime | None):
        self.lab, self.since = lab, since
        when = f" since {fmt_time(since)}" if since else ""
        super().__init__(f"lab {lab} is being torn down{when} (its switch carries {TEARDOWN_PREFIX}...); "
                         f"let teardown_lab {lab} finish (re-run it if it stopped), then provision again")


def fmt_time(at: datetime, seconds: bool = False) -> str:
    return at.astimezone(timezone.utc).strftime(TIME_FORMATS[1] if seconds else TIME_FORMATS[0])


def parse_time(value: str) -> datetime | None:
    for f in TIME_FORMATS:
        try:
            return datetime.strptime(value, f).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _value(tags: Iterable[str], prefix: str) -> str | None:
    for t in tags:
        if t.startswith(prefix):
            return t[len(prefix):]
    return None


def _time(tags: Iterable[str], prefix: str) -> datetime | None:
    v = _value(tags, prefix)
    return parse_time(v) if v is not None else None


def expiry_tag(at: datetime, seconds: bool = False) -> str:
    return EXPIRES_PREFIX + fmt_time(at, seconds)


def parse_expiry(tags: Iterable[str]) -> datetime | None:
    return _time(tags, EXPIRES_PREFIX)


def budget_tag(yen: int) -> str:
    return f"{BUDGET_PREFIX}{int(yen)}"


def parse_budget(tags: Iterable[str]) -> int | None:
    v = _value(tags, BUDGET_PREFIX)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def protect_tag(until: datetime) -> str:
    return PROTECT_PREFIX + fmt_time(until)


def parse_protect(tags: Iterable[str]) -> datetime | None:
    return _time(tags, PROTECT_PREFIX)


def teardown_tag(at: datetime) -> str:
    return TEARDOWN_PREFIX + fmt_time(at, seconds=True)


def parse_teardown(tags: Iterable[str]) -> datetime | None:
    """When a teardown started; a marker with an unreadable time still counts (epoch)."""
    v = _value(tags, TEARDOWN_PREFIX)
    if v is None:
        return None
    return parse_time(v) or datetime.fromtimestamp(0, timezone.utc)


def lab_names(tags: Iterable[str]) -> set[str]:
    return {t[len(LAB_PREFIX):] for t in tags if t.startswith(LAB_PREFIX) and len(t) > len(LAB_PREFIX)}


def check_adoptable(lab: str, tags: list[str], now: datetime) -> None:
    """Raise LabRetired if a lab with these switch tags must not be adopted or extended by provision."""
    since = parse_teardown(tags)
    if since is not None:
        raise LabTearingDown(lab, since)
    expiry = parse_expiry(tags)
    if expiry is not None and expiry <= now:
        raise LabExpired(lab, expiry)
