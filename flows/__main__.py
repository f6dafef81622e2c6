"""Run a flow from the command line:
`python -m flows provision|exercise|teardown|demo|build-and-destroy|cost-guard [--profile local] [--name N]`.

`exercise` runs the failure drills on a built lab and prints the report (JSON).

`demo` is build-and-destroy: build → exercise → teardown (always), with the run's cost as an artifact.
"""

from __future__ import annotations

import argparse
import json

from swarmlab.spec import PROFILES


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m flows")
    p.add_argument("flow", choices=["provision", "exercise", "teardown", "demo", "build-and-destroy", "cost-guard"])
    p.add_argument("--profile", choices=sorted(PROFILES), default="local")
    p.add_argument("--name", default="swarmlab", help="lab name")
    p.add_argument("--subnet", default="192.168.1.0/24", help="the lab switch's subnet")
    p.add_argument("--credentials", help="SakuraCloudCredentials block name (default: SAKURACLOUD_* env)")
    p.add_argument("--ssh-key", help="SSHKeyPair block name (default: .state/ssh/<lab>_ed25519)")
    p.add_argument("--ttl-hours", type=float, help="override the profile's ttl_hours (the lab's expiry)")
    p.add_argument("--budget-yen", type=int, help="override the profile's budget_yen")
    p.add_argument("--zone", action="append", help="cost-guard: a zone to guard (repeatable; default is1a)")
    p.add_argument("--dry-run", action="store_true", help="cost-guard: report, delete nothing")
    p.add_argument("--interval-minutes", type=int, default=10, help="cost-guard: minutes until its next run")
    a = p.parse_args()
    overrides = {k: v for k, v in (("ttl_hours", a.ttl_hours), ("budget_yen", a.budget_yen)) if v is not None}
    spec = PROFILES[a.profile](a.name, a.subnet, **overrides)

    if a.flow in ("demo", "build-and-destroy"):
        from flows.build_and_destroy import build_and_destroy

        print(json.dumps({"lab": spec.name, "accrued_yen": build_and_destroy(spec, a.credentials, a.ssh_key)}))
    elif a.flow == "provision":
        from flows.provision import provision

        inv = provision(spec, credentials=a.credentials, ssh_key=a.ssh_key)
        print(json.dumps(inv.model_dump(mode="json"), indent=2))
    elif a.flow == "exercise":
        from flows.exercise import exercise_lab

        report = exercise_lab(spec, credentials=a.credentials, ssh_key=a.ssh_key, fail_on_verdict=False)
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        if not report.passed:
            raise SystemExit(1)
    elif a.flow == "cost-guard":
        from flows.cost_guard import cost_guard

        decisions = cost_guard(zones=a.zone or [spec.zone], interval_minutes=a.interval_minutes,
                               default_budget_yen=spec.budget_yen, dry_run=a.dry_run, credentials=a.credentials)
        print(json.dumps([d.model_dump(mode="json") for d in decisions], indent=2))
    else:
        from flows.teardown import teardown_lab

        print(json.dumps(teardown_lab(spec.name, spec.zone, credentials=a.credentials), indent=2))


if __name__ == "__main__":
    main()
