"""Drills you can see: per-second buckets of the probe's samples, the moments nodes went down and came
back, drawn as a plain SVG per drill, and an HTML page linking them. Pure except `write_report`."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from pydantic import BaseModel

from .probe import Sample, percentile

W_SEC, H_PLOT, M_LEFT, M_TOP, M_BOTTOM, M_RIGHT, MIN_WIDTH = 8, 160, 56, 40, 36, 56, 520


class Event(BaseModel):
    """A host powered off (`down`) or up again (`up`) at `t` seconds on the probe's clock."""
    t: float
    host: str
    kind: Literal["down", "up"]


class Second(BaseModel):
    t: int                   # seconds since the window's start
    ok: int
    failed: int
    p99_ms: float            # of the ok requests; 0 when none


class Timeline(BaseModel):
    title: str
    start: float
    end: float
    seconds: list[Second]
    events: list[Event]      # those inside the window, t relative to start


def per_second(samples: list[Sample], start: float, end: float) -> list[Second]:
    """One bucket per second of [start, end): ceil(end - start) buckets, empty ones included."""
    n = max(0, math.ceil(end - start))
    buckets: list[list[Sample]] = [[] for _ in range(n)]
    for s in samples:
        if start <= s.t < end:
            buckets[min(n - 1, int(s.t - start))].append(s)
    return [Second(t=i, ok=sum(s.ok for s in b), failed=sum(not s.ok for s in b),
                   p99_ms=round(percentile([s.latency_ms for s in b if s.ok], 0.99), 1))
            for i, b in enumerate(buckets)]


def timeline(title: str, samples: list[Sample], events: list[Event], start: float, end: float) -> Timeline:
    """The window [start, end) of a drill: its seconds, and the events inside it (the next drill's first
    event, a few ms after `end`, is the next window's)."""
    return Timeline(title=title, start=start, end=end, seconds=per_second(samples, start, end),
                    events=[e.model_copy(update={"t": round(e.t - start, 2)}) for e in events
                            if start <= e.t < end])


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def svg(tl: Timeline) -> str:
    """Stacked bars per second (ok green, failed red, left axis: requests), the p99 latency of each second
    as a point on a blue line (right axis: ms), and a dashed marker per event (down red, up green)."""
    n = len(tl.seconds)
    width, height = max(MIN_WIDTH, M_LEFT + n * W_SEC + M_RIGHT), M_TOP + H_PLOT + M_BOTTOM
    top = max([s.ok + s.failed for s in tl.seconds] + [1])
    top_ms = max([s.p99_ms for s in tl.seconds] + [1.0])
    base = M_TOP + H_PLOT

    def x(t: float) -> float:
        return round(M_LEFT + t * W_SEC, 1)

    def y(v: float, scale: float) -> float:
        return round(base - v / scale * H_PLOT, 1)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
           f'<title>{escape(tl.title)}</title>',
           f'<text x="{M_LEFT}" y="14" font-size="12">{escape(tl.title)}: per second ok (green), '
           f'failed (red), p99 ms (blue)</text>',
           f'<line x1="{M_LEFT}" y1="{base}" x2="{x(n)}" y2="{base}" stroke="#444"/>',
           f'<text x="{M_LEFT - 4}" y="{M_TOP + 4}" text-anchor="end">{top}/s</text>',
           f'<text x="{x(n) + 4}" y="{M_TOP + 4}">{top_ms:g} ms</text>']
    for tick in range(0, n + 1, 10):
        out.append(f'<text x="{x(tick)}" y="{base + 14}" text-anchor="middle">{tick}s</text>')
    points = []
    for s in tl.seconds:
        ok_top, all_top = y(s.ok, top), y(s.ok + s.failed, top)
        out.append(f'<g class="second" data-t="{s.t}" data-ok="{s.ok}" data-failed="{s.failed}" '
                   f'data-p99="{s.p99_ms:g}">')
        out.append(f'<rect class="ok" x="{x(s.t)}" y="{ok_top}" width="{W_SEC - 1}" '
                   f'height="{round(base - ok_top, 1)}" fill="#3a3"/>')
        if s.failed:
            out.append(f'<rect class="failed" x="{x(s.t)}" y="{all_top}" width="{W_SEC - 1}" '
                       f'height="{round(ok_top - all_top, 1)}" fill="#d22"/>')
        cx, cy = x(s.t + 0.5), y(s.p99_ms, top_ms)
        out.append(f'<circle class="p99" cx="{cx}" cy="{cy}" r="1.5" fill="#26c"/></g>')
        points.append(f"{cx},{cy}")
    if points:
        out.append(f'<polyline class="p99-line" points="{" ".join(points)}" fill="none" stroke="#26c" '
                   'stroke-width="1"/>')
    for e in tl.events:
        color = "#d22" if e.kind == "down" else "#3a3"
        out.append(f'<g class="event {e.kind}" data-t="{e.t:g}" data-host="{_attr(e.host)}">'
                   f'<line x1="{x(e.t)}" y1="{M_TOP - 12}" x2="{x(e.t)}" y2="{base}" stroke="{color}" '
                   f'stroke-dasharray="3,2"/><text x="{x(e.t) + 2}" y="{M_TOP - (4 if e.kind == "up" else 14)}" '
                   f'fill="{color}">{escape(e.host)} {e.kind}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "drill"


def html_page(title: str, items: list[tuple[str, str]], markdown_file: str = "") -> str:
    """A page showing each (heading, svg file name) in order, with a link to the markdown report."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if markdown_file:
        body.append(f'<p><a href="{html.escape(markdown_file)}">the drills report (markdown)</a></p>')
    for heading, file in items:
        body.append(f'<h2>{html.escape(heading)}</h2><p><a href="{html.escape(file)}">'
                    f'<img src="{html.escape(file)}" alt="{html.escape(heading)} timeline"></a></p>')
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + html.escape(title)
            + "</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(directory: Path, title: str, timelines: list[Timeline], markdown: str) -> Path:
    """Write `drills.md`, one SVG per timeline and `index.html` linking them into `directory`; returns the
    page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "drills.md").write_text(markdown)
    items = []
    for i, tl in enumerate(timelines):
        name = f"{i:02d}-{slug(tl.title)}.svg"
        (directory / name).write_text(svg(tl))
        items.append((tl.title, name))
    page = directory / "index.html"
    page.write_text(html_page(title, items, "drills.md"))
    return page
