"""The walkthrough lab's 2-hour estimate, how long a lab outlives its expiry under the cost guard, and the
nightly (build, drills, teardown) under the emulator's real-cloud time model: its wall time and its bill."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks import labenv, warm_prefect
from emulator import process
from swarmlab.cloud import lifecycle as lc
from swarmlab.cost import PriceTable, estimate, load_prices
from swarmlab.spec import LAB_TAG, local, seed
from swarmlab.cloud.resources import KINDS
from swarmlab.sakura.wait import Deadline

GUARD_EVERY_S = 5.0
EXPIRES_IN_S = 5.0
BOUND_S = 600.0


def yen(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def tagged(client) -> int:
    return sum(len(kind.api(client).find(tags=[LAB_TAG])) for kind in KINDS)


def run(tmp: str) -> dict:
    walkthrough = estimate(seed("bench-cost"), 2, PriceTable.bundled()).total
    emu = process.start(Path(tmp), "memory")
    os.environ.update(emu.env())
    from blocks.sakura import SakuraCloudCredentials
    from flows.cost_guard import cost_guard
    from flows.provision import provision

    try:
        warm_prefect()
        client = SakuraCloudCredentials.from_env().client("is1a")
        emulator_prices = estimate(seed("bench-cost"), 2, load_prices(client)).total
        spec = local("bench-cost")
        provision(spec)
        sw = client.switches.find(name=spec.resource_name("switch"), tags=spec.tags)[0]
        expires = datetime.now(timezone.utc) + timedelta(seconds=EXPIRES_IN_S)
        client.switches.set_tags(sw.id, [t for t in sw.tags if not t.startswith(lc.EXPIRES_PREFIX)]
                                 + [lc.expiry_tag(expires, seconds=True)])
        runs, left = 0, tagged(client)
        deadline = Deadline(BOUND_S)
        while left and not deadline.passed:
            tick = time.monotonic()
            cost_guard(zones=["is1a"], interval_minutes=1)
            runs += 1
            left = tagged(client)
            if left:
                time.sleep(max(0.0, GUARD_EVERY_S - (time.monotonic() - tick)))
        cleaned = (datetime.now(timezone.utc) - expires).total_seconds()
    finally:
        emu.stop()
    return {"benchmark": "cost", "seed_2h_estimate_yen": yen(walkthrough),
            "seed_2h_estimate_yen_emulator_prices": yen(emulator_prices),
            "expiry_to_clean_s": round(cleaned, 2) if not left else None, "left_tagged": left,
            "guard_every_s": GUARD_EVERY_S, "guard_runs": runs,
            "emulator": "memory backend, default delays", **nightly_model(tmp)}


def nightly_model(tmp: str) -> dict:
    """build_and_destroy with drills on the docker backend under `--timing cloud` (SAKURA's minutes): the
    wall time, and the yen SAKURA bills for it (each resource's started hours, from the ledger before
    teardown; the teardown's last minutes fall in hours already billed when the run fits in one)."""
    from flows.build_and_destroy import build_and_destroy

    with labenv.lab(tmp, "benchnightly", 66, timing="cloud", delay_scale="1") as spec:
        billed, seconds = labenv.timed(build_and_destroy, spec, lab_prefix=None)
    return {"nightly_model_s": seconds, "nightly_billed_yen": yen(round(billed, 2)),
            "nightly_fits_one_billed_hour": seconds < 3600, "nightly_emulator": "docker backend, timing cloud × 1"}
