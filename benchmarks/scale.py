"""More machines and more labs: the 3-worker build against a 9-worker one, one lab against two at once
(build_labs, two at a time), and the SAKURA API requests one lab costs (build, no-op, teardown) with the
highest request rate seen across both labs. `build_cpu_s`: what the 3- and 9-worker builds cost this machine
(busy CPU-seconds, and those of the lab's VMs): on two shared cores, more workers are more CPU, not more machines;
`build_stages`: when each of their stages was done (build_lab's timings).

Own names and subnets (labs `benchscale*`, 192.168.96-99.0/24, instance `swarmlab-bench-benchscale`); the
emulator is purged at the end, so nothing of it is left.
"""

from __future__ import annotations

import threading
import time

from benchmarks import cpu, labenv
from swarmlab.sakura.transport import SENT
from swarmlab.spec import local


class RatePeak:
    """The highest number of requests sent within any one second, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        window: list[tuple[float, int]] = []
        while not self._stop.wait(0.1):
            now = time.monotonic()
            window = [(t, n) for t, n in window if now - t <= 1.0] + [(now, SENT.value)]
            self.peak = max(self.peak, window[-1][1] - window[0][1])

    def __enter__(self) -> RatePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def build_cpu(before: dict[str, float], after: dict[str, float], lab: str) -> dict[str, float]:
    """The machine's busy CPU-seconds between two `cpu.snapshot`s, and those of `lab`'s VMs."""
    used = cpu.spent(before, after)
    return {"machine": used.get("machine (busy)", 0.0),
            "vms": round(sum(v for k, v in used.items() if k.startswith(f"{lab}-")), 1)}


def run(tmp: str) -> dict:
    with labenv.lab(tmp, "benchscale", 96) as spec:
        from flows.build import build_lab
        from flows.build_labs import build_labs
        from flows.teardown import teardown_lab

        one, nine = spec, local("benchscale9", "192.168.97.0/24", workers=9)
        pair = [local("benchscale2a", "192.168.98.0/24"), local("benchscale2b", "192.168.99.0/24")]
        built = []
        try:
            sent = [SENT.value]
            built.append(one)
            before = cpu.snapshot(labenv.instance(spec.name))
            first, one_s = labenv.timed(build_lab, one)
            cpu_3w = build_cpu(before, cpu.snapshot(labenv.instance(spec.name)), one.name)
            sent.append(SENT.value)
            _, noop_s = labenv.timed(build_lab, one)
            sent.append(SENT.value)
            _, one_down_s = labenv.timed(teardown_lab, one.name, one.zone)
            built.remove(one)
            sent.append(SENT.value)

            built.append(nine)
            before = cpu.snapshot(labenv.instance(spec.name))
            ninth, nine_s = labenv.timed(build_lab, nine)
            cpu_9w = build_cpu(before, cpu.snapshot(labenv.instance(spec.name)), nine.name)
            teardown_lab(nine.name, nine.zone)
            built.remove(nine)

            built.extend(pair)
            with RatePeak() as peak:
                _, two_s = labenv.timed(build_labs, pair, parallel=2)
        finally:
            for s in built:
                teardown_lab(s.name, s.zone)
    requests = dict(zip(("build", "noop", "teardown"), (b - a for a, b in zip(sent, sent[1:]))))
    return {"benchmark": "scale", "build_3w_s": one_s, "build_9w_s": nine_s,
            "build_9w_ratio": round(nine_s / one_s, 2), "build_cpu_s": {"3w": cpu_3w, "9w": cpu_9w},
            "build_stages": {"3w": first.timings, "9w": ninth.timings},
            "one_lab_s": one_s, "two_labs_s": two_s,
            "two_labs_ratio": round(two_s / one_s, 2), "noop_s": noop_s, "teardown_s": one_down_s,
            "api_requests_per_lab": requests, "api_peak_requests_per_s_two_labs": peak.peak,
            "emulator": labenv.emulator_note()}
