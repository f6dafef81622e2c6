"""bootstrap_swarm on a fresh lab (prepare_hosts → drained managers), then its no-op re-run."""

from __future__ import annotations

from benchmarks import labenv, warm_prefect


def run(tmp: str) -> dict:
    emu = labenv.start(tmp)
    try:
        warm_prefect()
        from flows.bootstrap import bootstrap_swarm
        from flows.provision import provision
        from flows.teardown import teardown_lab

        spec = labenv.spec()
        try:
            inv = provision(spec)
            first, first_s = labenv.timed(bootstrap_swarm, inv, spec)
            again, again_s = labenv.timed(bootstrap_swarm, inv, spec)
        finally:
            teardown_lab(spec.name, spec.zone)
    finally:
        emu.stop(purge=True)
    return {"benchmark": "swarm", "bootstrap_s": first_s, "noop_s": again_s, "changes_first": len(first),
            "changes_noop": len(again), "noop_ratio": round(again_s / first_s, 3)}
