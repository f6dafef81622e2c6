"""bootstrap_swarm on a fresh lab (prepare_hosts → drained managers), then its no-op re-run."""

from __future__ import annotations

from benchmarks import labenv


def run(tmp: str) -> dict:
    with labenv.lab(tmp, "benchswarm", 8) as spec:
        from flows.bootstrap import bootstrap_swarm
        from flows.provision import provision
        from flows.teardown import teardown_lab

        try:
            inv = provision(spec)
            first, first_s = labenv.timed(bootstrap_swarm, inv, spec)
            again, again_s = labenv.timed(bootstrap_swarm, inv, spec)
        finally:
            teardown_lab(spec.name, spec.zone)
    return {"benchmark": "swarm", "bootstrap_s": first_s, "noop_s": again_s, "changes_first": len(first),
            "changes_noop": len(again), "noop_ratio": round(again_s / first_s, 3), "emulator": labenv.emulator_note()}
