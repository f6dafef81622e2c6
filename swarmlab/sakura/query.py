"""Pure helpers: the JSON-in-query-string encoding, find filters, and the backoff schedule."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["backoff_delay", "encode_query", "find_query", "name_tags_filter", "normalize_id"]


def normalize_id(value: Any) -> str:
    """IDs arrive as JSON numbers (with `X-Sakura-Bigint-As-Int: 1`) or strings; we keep strings."""
    if isinstance(value, bool):
        raise TypeError(f"not an ID: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    raise TypeError(f"not an ID: {value!r}")


def encode_query(q: Mapping[str, Any] | None) -> str:
    """The query string for a find: the compact JSON object, percent-encoded as a whole.

    SAKURA Cloud wants `?{JSON}` (no `q=` key); we build it ourselves, never with `params=`.
    Returns "" for an empty/None query (so the URL gets no `?`).
    """
    if not q:
        return ""
    return quote(json.dumps(q, separators=(",", ":"), ensure_ascii=False), safe="")


def name_tags_filter(name: str | None = None, tags: Iterable[str] | None = None,
                     **exact: Any) -> dict[str, Any]:
    """A `Filter` object: `Name` exact (one-element array), `Tags.Name` AND (nested array), and any
    other exact-match keys (values wrapped as one-element arrays, numbers stringified)."""
    f: dict[str, Any] = {}
    if name is not None:
        f["Name"] = [name]
    tags = [t for t in (tags or [])]
    if tags:
        f["Tags.Name"] = [tags]
    for key, value in exact.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        f[key.replace("__", ".")] = [str(v) if isinstance(v, (int, float)) else v for v in values]
    return f


def find_query(filter_: Mapping[str, Any] | None = None, count: int | None = None,
               from_: int | None = None, sort: list[str] | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {}
    if count is not None:
        q["Count"] = count
    if from_:
        q["From"] = from_
    if sort:
        q["Sort"] = list(sort)
    if filter_:
        q["Filter"] = dict(filter_)
    return q


def backoff_delay(attempt: int, base_s: float = 0.5, cap_s: float = 30.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (0-based): exponential with "equal jitter".

    The ceiling is `min(cap_s, base_s * 2**attempt)`; the delay is uniform in [ceiling/2, ceiling],
    so retries from many threads spread out but never come back sooner than half the schedule.
    """
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt)))
    return ceiling / 2 + rand() * ceiling / 2
