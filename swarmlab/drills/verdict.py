"""Pure verdict logic of the drills: results, bounds, convergence and quorum readings, the report.

Nothing here touches a host or the network; `steps.py` gathers the facts and calls these.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from swarmlab.errors import SwarmlabError
from swarmlab.release.deploy import StackStatus
from swarmlab.swarm.facts import NodeRow
from swarmlab.release.service_facts import converged, last_task_error, strip_digest

from .probe import ProbeSummary
from .timeline import Event

PASS, FAIL = "pass", "fail"

#: what a manager says once quorum is lost for good; before it, it may hang ~20 s and
#: end with "context deadline exceeded": both mean "no leader", only this one is definitive
DEFINITIVE_NO_LEADER = "does not have a leader"


class DrillResult(BaseModel):
    """One drill: what was done, how long the swarm took to notice and to recover, what users saw."""

    name: str
    verdict: str = FAIL
    detect_s: float | None = Field(None, description="fault → the swarm (or the flow) saw it; None: not a fault")
    recover_s: float | None = Field(None, description="fault or command → converged again, proven")
    ok: int = 0
    failed: int = 0
    failure_bound: int | None = Field(None, description="most failed requests the health check allows")
    p99_ms: float = 0.0
    why: str = ""                      # the verdict in one line
    notes: list[str] = []
    details: dict[str, Any] = {}
    first_failures: list[str] = []
    start_s: float | None = Field(None, description="the drill's window on the probe's clock (timeline)")
    end_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == PASS


class ExerciseReport(BaseModel):
    lab: str
    urls: list[str]
    rate_per_s: float
    drills: list[DrillResult]
    healed: list[str] = []             # servers the final heal step had to power on
    total: ProbeSummary | None = None
    seconds: float = 0.0
    error: str = ""                    # a drill that raised (the lab was healed anyway)
    events: list[Event] = []           # hosts powered off / on, on the probe's clock
    report_dir: str = ""               # drills.md, the timelines (SVG) and index.html

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.drills) and all(d.passed for d in self.drills)

    def drill(self, name: str) -> DrillResult:
        return next(d for d in self.drills if d.name == name)


class DrillsFailed(SwarmlabError):
    """At least one drill's verdict is fail; the lab was healed. The report says which and why."""

    def __init__(self, report: ExerciseReport):
        bad = [f"{d.name}: {d.why}" for d in report.drills if not d.passed]
        if report.error:
            bad.append(f"error: {report.error}")
        super().__init__(f"lab {report.lab}: {len(bad)} drill(s) failed: " + "; ".join(bad)
                         + ". The lab was healed (every server powered on, the stack converged); see the "
                           "exercise artifact for the probe's numbers and run exercise_lab again once fixed.")
        self.report = report


# -- bounds and verdicts --------------------------------------------------------------------------

def judge(result: DrillResult, summary: ProbeSummary, *, conditions: dict[str, bool],
          bound: int | None = 0) -> DrillResult:
    """Fill in the probe's numbers and the verdict: every condition holds and failed ≤ bound."""
    failed_ok = bound is None or summary.failed <= bound
    broken = [name for name, ok in conditions.items() if not ok]
    if not failed_ok:
        broken.append(f"{summary.failed} failed requests > {bound} allowed")
    if summary.sent == 0:
        broken.append("the probe sent no request in the drill's window")
    why = "; ".join(broken) if broken else (
        f"{summary.failed} failed of {summary.sent}" + (f" (bound {bound})" if bound else ""))
    return result.model_copy(update=dict(
        verdict=FAIL if broken else PASS, ok=summary.ok, failed=summary.failed,
        failure_bound=bound if bound is not None else result.failure_bound, p99_ms=summary.p99_ms, why=why,
        first_failures=summary.first_failures))


def no_leader_kind(text: str) -> str:
    """'definitive' (the swarm says it has no leader), 'deadline' (the survivor timed out asking), ''."""
    low = text.lower()
    if DEFINITIVE_NO_LEADER in low:
        return "definitive"
    if "context deadline exceeded" in low or "deadline" in low or "did not finish within" in low:
        return "deadline"
    return ""


def nodes_not_ready(rows: list[NodeRow], expected: set[str]) -> list[str]:
    """Why the swarm is not fully up: expected hostnames missing or not Ready ([] when all are)."""
    by = {r.hostname: r for r in rows}
    why = [f"{h} missing" for h in sorted(expected - set(by))]
    why += [f"{h} {by[h].status}" for h in sorted(expected & set(by)) if not by[h].ready]
    return why


def node_status(rows: list[NodeRow], hostname: str) -> str:
    return next((r.status for r in rows if r.hostname == hostname), "")


def stack_unconverged(status: StackStatus) -> dict[str, str]:
    """Service → why it is not at its replica count on its spec's image (empty when all are)."""
    out = {}
    for short, inspect in status.inspects.items():
        if inspect is None:
            out[short] = "service not found"
            continue
        replicas = inspect.replicas if inspect.replicas is not None else 0
        ok, why = converged(status.services.get(short), inspect, status.tasks.get(short, []),
                            replicas=replicas, image=strip_digest(inspect.image))
        if not ok:
            err = last_task_error(status.tasks.get(short, []))
            out[short] = why + (f"; last task error: {err}" if err and err not in why else "")
    return out


def edge_missing(seen: dict[str, dict[str, str]], want: dict[str, int], version: dict[str, str] | None = None
                 ) -> list[str]:
    """Whether every replica answered through HAProxy: `seen` frontend → {hostname: version} from a round
    of requests; `want` frontend → replicas; `version` frontend → the version each answer must carry."""
    why = []
    for frontend, n in want.items():
        hosts = seen.get(frontend, {})
        if len(hosts) < n:
            why.append(f"{frontend}: {len(hosts)}/{n} replicas answered ({', '.join(sorted(hosts)) or 'none'})")
        want_v = (version or {}).get(frontend)
        if want_v:
            stale = sorted(h for h, v in hosts.items() if v != want_v)
            if stale:
                why.append(f"{frontend}: {', '.join(stale)} not on {want_v}")
    return why


# -- the report -----------------------------------------------------------------------------------

def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} s"


def markdown(report: ExerciseReport) -> str:
    """The exercise artifact: one table per drill plus a summary line."""
    head = "PASSED" if report.passed else "FAILED"
    out = [f"# Drills on lab {report.lab}: {head}", "",
           f"Probe: {report.rate_per_s:g} requests/s through HAProxy, round robin over "
           + ", ".join(f"<{u}>" for u in report.urls) + f"; {report.seconds:.0f} s in all.", ""]
    if report.total:
        out += [f"Whole exercise: {report.total.ok} ok, {report.total.failed} failed of {report.total.sent} "
                f"(p50 {report.total.p50_ms:g} ms, p99 {report.total.p99_ms:g} ms).", ""]
    if report.report_dir:
        page = f"{report.report_dir}/index.html"
        out += [f"Timelines (requests ok/failed and p99 per second, nodes down/up): [{page}](file://{page}) "
                f"(one SVG per drill beside `drills.md` in `{report.report_dir}`).", ""]
    if report.error:
        out += [f"**Stopped by an error:** {report.error}", ""]
    if report.healed:
        out += [f"Heal step powered on: {', '.join(report.healed)}.", ""]
    for d in report.drills:
        out += [f"## {d.name}: {d.verdict}", "",
                "| time to detect | time to recover | ok requests | failed requests | allowed | verdict |",
                "|---|---|---|---|---|---|",
                f"| {_fmt(d.detect_s)} | {_fmt(d.recover_s)} | {d.ok} | {d.failed} | "
                f"{d.failure_bound if d.failure_bound is not None else 0} | {d.verdict}: {d.why} |", ""]
        out += [f"- {n}" for n in d.notes]
        out += [f"- {k}: {v}" for k, v in d.details.items()]
        if d.first_failures:
            out += ["- first failures: " + "; ".join(d.first_failures)]
        out.append("")
    return "\n".join(out)
