"""A lab's lifecycle tags: expiry, budget, protection and the teardown marker (the cloud is the state).

All of them live on the lab's switch (`<lab>-switch`); expiry and budget are also copied onto every
resource provision creates, so a lab whose switch is gone still says when it expires.

- `swarmlab-expires=<UTC>`          the lab may be torn down by the cost guard after this time
- `swarmlab-budget=<yen>`           the guard tears the lab down before its accrued cost crosses this
- `swarmlab-protect-until=<UTC>`    neither the guard nor teardown_lab (without force) tears the lab down
                                    before this time (put it on the switch by hand, like cloud-nuke's
                                    `cloud-nuke-after`)
- `swarmlab-teardown=<UTC>`         a teardown started at this time; provision refuses to adopt the lab

The canonical time form, the one swarmlab writes, is UTC `%Y-%m-%dT%H:%MZ` (e.g. `2099-06-01T00:00Z`).
Read too: seconds, a `+09:00` / `+0900` offset instead of `Z`, and a date alone (`2099-06-01` = 00:00 UTC).
A lifecycle tag that is present but does not parse is `Unreadable`, never "absent": the guard keeps
such a lab and flags it, teardown_lab refuses it unless forced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from swarmlab.errors import SwarmlabError
from swarmlab.spec import LAB_TAG

LAB_PREFIX = f"{LAB_TAG}-lab="
EXPIRES_PREFIX = f"{LAB_TAG}-expires="
BUDGET_PREFIX = f"{LAB_TAG}-budget="
PROTECT_PREFIX = f"{LAB_TAG}-protect-until="
TEARDOWN_PREFIX = f"{LAB_TAG}-teardown="
TIME_FORMATS = ("%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%SZ")
CANONICAL_TIME = "YYYY-MM-DDTHH:MMZ (UTC, e.g. 2099-06-01T00:00Z)"
_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2}))?")


class Unreadable(BaseModel):
    """A lifecycle tag that is present but does not parse: it must fail safe, never read as absent."""
    model_config = ConfigDict(frozen=True)
    prefix: str     # e.g. `swarmlab-protect-until=`
    value: str
    canonical: str

    @property
    def tag(self) -> str:
        return self.prefix + self.value

    def __str__(self) -> str:
        return f"tag {self.tag} does not parse; fix it to {self.prefix}{self.canonical}"


class LabRetired(SwarmlabError, RuntimeError):
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


class TeardownRefused(SwarmlabError, RuntimeError):
    """teardown_lab will not delete this lab without force (never retried)."""


class LabProtected(TeardownRefused):
    def __init__(self, lab: str, until: datetime, value: str):
        self.lab, self.until, self.value = lab, until, value
        super().__init__(f"lab {lab} is protected by its tag {PROTECT_PREFIX}{value} (until {fmt_time(until)}); "
                         f"nothing was deleted. To delete it anyway run teardown with --force (force=True), "
                         f"or remove the tag from {lab}-switch first")


class LabTagUnreadable(TeardownRefused):
    def __init__(self, lab: str, unreadable: list[Unreadable]):
        self.lab, self.unreadable = lab, list(unreadable)
        super().__init__(f"lab {lab}: {'; '.join(map(str, unreadable))}. Nothing was deleted: an unreadable "
                         f"lifecycle tag may mean protection. Fix or remove the tag on {lab}-switch, or run "
                         f"teardown with --force (force=True)")


def fmt_time(at: datetime, seconds: bool = False) -> str:
    return at.astimezone(timezone.utc).strftime(TIME_FORMATS[1] if seconds else TIME_FORMATS[0])


def parse_time(value: str) -> datetime | None:
    """A date alone (00:00 UTC), or date + time to the minute or second with `Z` or an offset; else None."""
    m = _TIME.fullmatch(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, sec, zone = m.groups()
    if h is not None and zone is None:
        return None
    try:
        tz = timezone.utc
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        at = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), tzinfo=tz)
    except ValueError:
        return None
    return at.astimezone(timezone.utc)


def _value(tags: Iterable[str], prefix: str) -> str | None:
    for t in tags:
        if t.startswith(prefix):
            return t[len(prefix):]
    return None


def read_time(tags: Iterable[str], prefix: str) -> datetime | Unreadable | None:
    """The tag's time; Unreadable if present but not a time; None if absent."""
    v = _value(tags, prefix)
    if v is None:
        return None
    return parse_time(v) or Unreadable(prefix=prefix, value=v, canonical=CANONICAL_TIME)


def read_budget(tags: Iterable[str]) -> int | Unreadable | None:
    v = _value(tags, BUDGET_PREFIX)
    if v is None:
        return None
    try:
        return int(v.strip())
    except ValueError:
        return Unreadable(prefix=BUDGET_PREFIX, value=v, canonical="<whole yen, e.g. 500>")


def _readable(v):
    return None if isinstance(v, Unreadable) else v


def expiry_tag(at: datetime, seconds: bool = False) -> str:
    return EXPIRES_PREFIX + fmt_time(at, seconds)


def parse_expiry(tags: Iterable[str]) -> datetime | None:
    """The expiry if readable (use read_time to tell an unreadable tag from none)."""
    return _readable(read_time(tags, EXPIRES_PREFIX))


def budget_tag(yen: int) -> str:
    return f"{BUDGET_PREFIX}{int(yen)}"


def parse_budget(tags: Iterable[str]) -> int | None:
    """The budget if readable (use read_budget to tell an unreadable tag from none)."""
    return _readable(read_budget(tags))


def protect_tag(until: datetime) -> str:
    return PROTECT_PREFIX + fmt_time(until)


def parse_protect(tags: Iterable[str]) -> datetime | None:
    """The protection if readable (use read_time to tell an unreadable tag from none)."""
    return _readable(read_time(tags, PROTECT_PREFIX))


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


class Lifecycle(BaseModel):
    """What a lab's lifecycle tags say: each a value, Unreadable (present, does not parse) or None (absent)."""
    model_config = ConfigDict(frozen=True)
    expires: datetime | Unreadable | None = None
    budget_yen: int | Unreadable | None = None
    protected_until: datetime | Unreadable | None = None
    protect_value: str | None = None
    teardown_since: datetime | None = None

    @property
    def unreadable(self) -> list[Unreadable]:
        return [v for v in (self.protected_until, self.expires, self.budget_yen) if isinstance(v, Unreadable)]

    def protected(self, now: datetime) -> bool:
        return isinstance(self.protected_until, datetime) and self.protected_until > now


def lab_lifecycle(switch_tags: list[str], other_tags: Iterable[list[str]]) -> Lifecycle:
    """The lab's switch decides; without the tag there, every other resource's (earliest expiry and
    budget, latest protection). An Unreadable value among those read wins: it fails safe."""
    others = list(other_tags)

    def pick(read, combine):
        v = read(switch_tags)
        if v is not None:
            return v
        values = [x for x in (read(t) for t in others) if x is not None]
        bad = [x for x in values if isinstance(x, Unreadable)]
        return bad[0] if bad else (combine(values) if values else None)

    protect = pick(lambda t: read_time(t, PROTECT_PREFIX), max)
    value = next((_value(t, PROTECT_PREFIX) for t in [switch_tags, *others]
                  if protect is not None and read_time(t, PROTECT_PREFIX) == protect), None)
    return Lifecycle(expires=pick(lambda t: read_time(t, EXPIRES_PREFIX), min), budget_yen=pick(read_budget, min),
                     protected_until=protect, protect_value=value, teardown_since=pick(parse_teardown, min))


def check_teardown(lab: str, life: Lifecycle, now: datetime) -> None:
    """Raise LabProtected / LabTagUnreadable if teardown_lab must not delete this lab without force."""
    if life.protected(now):
        raise LabProtected(lab, life.protected_until, life.protect_value or fmt_time(life.protected_until))
    if life.unreadable:
        raise LabTagUnreadable(lab, life.unreadable)


def check_adoptable(lab: str, tags: list[str], now: datetime) -> None:
    """Raise LabRetired if a lab with these switch tags must not be adopted or extended by provision."""
    since = parse_teardown(tags)
    if since is not None:
        raise LabTearingDown(lab, since)
    expiry = parse_expiry(tags)
    if expiry is not None and expiry <= now:
        raise LabExpired(lab, expiry)
