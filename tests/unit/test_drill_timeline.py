"""The drill timeline: per-second buckets of probe samples and the SVG drawn from them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from swarmlab.drills.probe import Sample
from swarmlab.drills.timeline import Event, html_page, per_second, svg, timeline, write_report

NS = {"s": "http://www.w3.org/2000/svg"}


def samples() -> list[Sample]:
    """20 requests/s from t=10 to t=20; seconds 13 and 14 fail half their requests; latency 5 ms, 50 at t=16."""
    out = []
    for i in range(200):
        t = 10 + i / 20
        failed = 13 <= t < 15 and i % 2 == 0
        out.append(Sample(t=t, url="http://198.18.0.9/", status=0 if failed else 200,
                          latency_ms=50.0 if 16 <= t < 17 else 5.0, error="ConnectionError" if failed else ""))
    return out


EVENTS = [Event(t=12.5, host="lab-worker01", kind="down"), Event(t=17.2, host="lab-worker01", kind="up"),
          Event(t=99.0, host="lab-manager01", kind="down")]


def test_one_bucket_per_second_of_the_window_with_counts_and_p99():
    secs = per_second(samples(), 10.0, 19.5)
    assert [s.t for s in secs] == list(range(10))
    assert [(s.ok, s.failed) for s in secs[:5]] == [(20, 0), (20, 0), (20, 0), (10, 10), (10, 10)]
    assert secs[6].p99_ms == 50.0 and secs[5].p99_ms == 5.0
    assert [(s.ok, s.failed) for s in per_second([], 30.0, 32.0)] == [(0, 0), (0, 0)]


def test_svg_is_well_formed_with_a_bar_and_point_per_second_failures_and_markers():
    tl = timeline("worker down", samples(), EVENTS, 10.0, 20.0)
    root = ET.fromstring(svg(tl))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    seconds = root.findall("s:g[@class='second']", NS)
    assert [int(g.get("data-t")) for g in seconds] == list(range(10))
    assert all(len(g.findall("s:rect[@class='ok']", NS)) == 1 for g in seconds)
    assert all(len(g.findall("s:circle[@class='p99']", NS)) == 1 for g in seconds)
    failed = [int(g.get("data-t")) for g in seconds if g.findall("s:rect[@class='failed']", NS)]
    assert failed == [3, 4]
    assert [float(r.get("height")) > 0 for g in seconds for r in g.findall("s:rect[@class='failed']", NS)] == [True] * 2
    down = root.findall("s:g[@class='event down']", NS)
    up = root.findall("s:g[@class='event up']", NS)
    assert [(g.get("data-host"), float(g.get("data-t"))) for g in down] == [("lab-worker01", 2.5)]
    assert [(g.get("data-host"), float(g.get("data-t"))) for g in up] == [("lab-worker01", 7.2)]
    assert "lab-manager01" not in svg(tl)   # outside the window


def test_svg_escapes_names_and_draws_an_empty_window():
    root = ET.fromstring(svg(timeline("a <b> & c", [], [Event(t=0.5, host="h&\"1", kind="down")], 0.0, 1.0)))
    assert root.find("s:title", NS).text == "a <b> & c"
    assert [g.get("data-host") for g in root.findall("s:g[@class='event down']", NS)] == ['h&"1']
    assert [(g.get("data-ok"), g.get("data-failed")) for g in root.findall("s:g[@class='second']", NS)] == [("0", "0")]
    assert ET.fromstring(svg(timeline("empty", [], [], 5.0, 5.0))).findall("s:g[@class='second']", NS) == []


def test_report_files_sit_beside_the_markdown_and_the_page_links_each_svg(tmp_path):
    tls = [timeline("scale", samples(), EVENTS, 10.0, 13.0), timeline("worker down", samples(), EVENTS, 12.0, 20.0)]
    page = write_report(tmp_path / "r", "Drills on lab x", tls, "# Drills\n")
    files = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert files == ["00-scale.svg", "01-worker-down.svg", "drills.md", "index.html"]
    text = page.read_text()
    assert 'src="00-scale.svg"' in text and 'src="01-worker-down.svg"' in text and 'href="drills.md"' in text
    for name in files[:2]:
        ET.parse(tmp_path / "r" / name)
    assert "<script" not in html_page("<script>", [])


def test_an_event_a_few_ms_after_a_window_belongs_to_the_next_one():
    # one drill ends and the next powers a manager off at once: on the same clock reading, it is the next's
    off = Event(t=180.958, host="lab-manager01", kind="down")
    assert timeline("worker down", [], [off], 146.94, 180.958).events == []
    assert [e.host for e in timeline("one manager down", [], [off], 180.958, 215.0).events] == ["lab-manager01"]
