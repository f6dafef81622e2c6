"""Find queries (parsed by wire.parse_query): Filter/Sort/From/Count over rendered items."""

from __future__ import annotations

from urllib.parse import unquote

from .errors import bad

OPERATORS = (">=", "<=", ">", "<")


def field_values(obj, path: str) -> list:
    """All scalar values at a dotted path; lists along the way fan out. `Tags.Name` means the tag strings."""
    items = [obj]
    for part in path.split("."):
        nxt = []
        for it in items:
            if isinstance(it, list):
                nxt.extend(x.get(part) if isinstance(x, dict) else x for x in it)
            elif isinstance(it, dict):
                nxt.append(it.get(part))
        items = nxt
    out = []
    for it in items:
        out.extend(it if isinstance(it, list) else [it])
    return [v for v in out if v is not None and not isinstance(v, dict)]


def _s(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _exact(value, strs: list[str]) -> bool:
    """Exact match; the SDK may path-escape values, so the unescaped form matches too."""
    return _s(value) in strs or unquote(_s(value)) in strs


def _compare(a, op: str, b) -> bool:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        a, b = _s(a), _s(b)
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def matches(obj: dict, flt: dict) -> bool:
    for key, cond in flt.items():
        op = next((o for o in OPERATORS if key.endswith(o)), None)
        path = key[: -len(op)] if op else key
        values = field_values(obj, path)
        strs = [_s(v) for v in values]
        if op:
            if not any(_compare(v, op, cond) for v in values):
                return False
        elif isinstance(cond, list):
            ok = False
            for alt in cond:
                if isinstance(alt, list):  # AND of exact values (tags)
                    ok = all(_exact(x, strs) for x in alt)
                else:
                    ok = _exact(alt, strs)
                if ok:
                    break
            if not ok:
                return False
        elif isinstance(cond, str):  # partial match; spaces mean AND of terms
            terms = unquote(cond).lower().split()
            if not any(all(t in s.lower() for t in terms) for s in strs):
                return False
        elif cond is None:
            raise bad("filter_null_comparison", f"{key}: null は比較できません。")
        elif not _exact(cond, strs):
            return False
    return True


def find(items: list[dict], q: dict, plural: str) -> dict:
    flt = q.get("Filter") or {}
    if not isinstance(flt, dict):
        raise bad("invalid_format", "Filter must be an object")
    hits = [it for it in items if matches(it, flt)]
    for key in reversed(q.get("Sort") or []):
        desc = key.startswith("-")
        path = key.lstrip("-")
        hits.sort(key=lambda it: [_sort_key(v) for v in field_values(it, path)], reverse=desc)
    try:
        start, count = int(q.get("From") or 0), int(q.get("Count") or 0)
    except (TypeError, ValueError):
        raise bad("invalid_format", "From/Count must be numbers")
    page = hits[start:start + count] if count > 0 else hits[start:]
    page = [{"Index": start + i, **{k: v for k, v in it.items() if k != "Index"}} for i, it in enumerate(page)]
    return {"Total": len(hits), "From": start, "Count": len(page), plural: page}


def _sort_key(v):
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, _s(v))
