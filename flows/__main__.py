"""Run a flow from the command line: `python -m flows COMMAND [options]` (`--help` on each command).

Every command takes only its own flags: a flag a command cannot honour is a usage error (exit 2).
The zone: --zone > the credentials block's zone > SAKURACLOUD_ZONE > is1a. Exit codes: 0 ok, 1 failed,
2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from blocks.sakura import ZONE_RULE
from swarmlab.spec import PROFILES, LabSpec

EPILOG = (f"zone: {ZONE_RULE}. Credentials: --credentials BLOCK, else SAKURACLOUD_ACCESS_TOKEN / _SECRET "
          f"over the usacloud profile (SAKURACLOUD_PROFILE, ~/.usacloud/current, default).")


class Failed(Exception):
    """A command that ran and did not succeed (exit 1), with what to do."""


class Usage(Exception):
    """The command cannot go on as asked (exit 2)."""


def _common(p: argparse.ArgumentParser, *, name: str = "default", spec: bool = True) -> None:
    """name: "default" (swarmlab), "required", or "optional" (None when not given)."""
    if name == "required":
        p.add_argument("--name", required=True, help="the lab's name")
    elif name == "optional":
        p.add_argument("--name", help="the lab's exact name (default: <prefix>-<yyyymmdd-hhmm>)")
    else:
        p.add_argument("--name", default="swarmlab", help="the lab's name (default swarmlab)")
    p.add_argument("--zone", help="the lab's zone (see the zone rule below)")
    p.add_argument("--credentials", help="SakuraCloudCredentials block name (default: SAKURACLOUD_* env)")
    if spec:
        p.add_argument("--profile", choices=sorted(PROFILES), default="local", help="lab profile (default local)")
        p.add_argument("--subnet", default="192.168.1.0/24", help="the lab switch's subnet")
        p.add_argument("--ssh-key", help="SSHKeyPair block name (default: .state/ssh/<lab>_ed25519)")
        p.add_argument("--admin-cidr", action="append", dest="admin_cidrs", metavar="CIDR",
                       help="where SSH may come from (repeatable; required by the seed profile: your public "
                            "address/32)")


def _budget(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ttl-hours", type=float, help="override the profile's ttl_hours (the lab's expiry)")
    p.add_argument("--budget-yen", type=int, help="override the profile's budget_yen")


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="python -m flows", description=__doc__, formatter_class=fmt, epilog=EPILOG)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("provision", help="create (or adopt) the lab's cloud resources", epilog=EPILOG,
                       description="Create or adopt every cloud resource of the lab; a re-run changes nothing.\n"
                                   "example: python -m flows provision --name lab1 --profile seed --zone tk1b",
                       formatter_class=fmt)
    _common(c)
    _budget(c)

    c = sub.add_parser("exercise", help="run the failure drills on a built lab", epilog=EPILOG,
                       description="Scale, rolling update, rollback, workers and managers down, with a probe "
                                   "through HAProxy; prints the report (JSON).\n"
                                   "example: python -m flows exercise --name lab1", formatter_class=fmt)
    _common(c, name="required")

    c = sub.add_parser("teardown", help="delete everything the lab owns", epilog=EPILOG,
                       description="Show the deletion plan, ask for confirmation, delete in dependency order and "
                                   "prove nothing is left. Only resources with the lab's tags and name go; a "
                                   "protected lab (swarmlab-protect-until in the future) needs --force.\n"
                                   "examples: python -m flows teardown --name lab1 --dry-run\n"
                                   "          python -m flows teardown --name lab1 --yes", formatter_class=fmt)
    _common(c, name="required", spec=False)
    c.add_argument("--dry-run", action="store_true", help="print the deletion plan, delete nothing")
    c.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    c.add_argument("--force", action="store_true", help="tear down even a protected lab")

    for name, what in (("demo", "the demo"), ("build-and-destroy", "build-and-destroy")):
        c = sub.add_parser(name, help="build, exercise and tear down a lab of this run's own", epilog=EPILOG,
                           description=f"{what}: build a lab, run the drills, tear it down (always), print its "
                                       "cost. The lab is this run's own: `<prefix>-<yyyymmdd-hhmm>` (UTC), or "
                                       "--name, which must not exist yet unless --adopt. An adopted lab that is "
                                       "protected is never torn down.\n"
                                       f"example: python -m flows {name} --prefix ci --no-drills",
                           formatter_class=fmt)
        _common(c, name="optional")
        _budget(c)
        c.add_argument("--prefix", help="prefix of the run's lab name (default: demo)")
        c.add_argument("--adopt", action="store_true", help="with --name: build on (and destroy) an existing lab")
        c.add_argument("--no-drills", action="store_true", help="build and destroy only")

    c = sub.add_parser("cost-guard", help="tear down labs that are expired or over budget", epilog=EPILOG,
                       description="For every lab in the zones: accrued cost, expiry, protection → keep or "
                                   "teardown; prints the decisions (JSON).\n"
                                   "example: python -m flows cost-guard --zone is1a --zone tk1b --dry-run",
                       formatter_class=fmt)
    c.add_argument("--zone", action="append", help="a zone to guard (repeatable; default: the credentials' zone)")
    c.add_argument("--credentials", help="SakuraCloudCredentials block name (default: SAKURACLOUD_* env)")
    c.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    c.add_argument("--interval-minutes", type=int, default=10, help="minutes until the guard's next run")
    c.add_argument("--budget-yen", type=int, default=1000, help="budget of a lab without a budget tag")
    return p


def build_spec(a: argparse.Namespace, name: str) -> LabSpec:
    overrides = {k: v for k, v in (("ttl_hours", getattr(a, "ttl_hours", None)),
                                   ("budget_yen", getattr(a, "budget_yen", None)), ("zone", a.zone),
                                   ("admin_cidrs", a.admin_cidrs)) if v is not None}
    return PROFILES[a.profile](name, a.subnet, **overrides)


def confirm(lab: str, zone: str, plan: list[str], *, yes: bool) -> None:
    """Terraform's way: show the plan; in a terminal only `yes` goes on; without one, --yes is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise Usage(f"no terminal to confirm the deletion of lab {lab} on; re-run with --yes to delete, "
                    f"or --dry-run to see the plan")
    print(f"Lab {lab} in {zone}: {len(plan)} resources will be deleted, in this order:")
    print("\n".join(f"  - {line}" for line in plan))
    if input("Only 'yes' will be accepted to delete them: ").strip() != "yes":
        raise Failed("teardown cancelled; nothing was deleted")


def teardown(a: argparse.Namespace) -> object:
    from flows.teardown import teardown_lab

    plan = teardown_lab(a.name, a.zone, a.credentials, dry_run=True, force=a.force)
    if a.dry_run:
        return plan.model_dump(mode="json")
    if not plan.plan:
        return plan.model_dump(mode="json")
    confirm(a.name, plan.zone, plan.plan, yes=a.yes)
    return teardown_lab(a.name, a.zone, a.credentials, force=a.force).model_dump(mode="json")


def build_and_destroy(a: argparse.Namespace, parser_: argparse.ArgumentParser) -> object:
    if a.name and a.prefix:
        parser_.error(f"{a.command}: --name and --prefix exclude each other")
    if a.adopt and not a.name:
        parser_.error(f"{a.command}: --adopt needs --name (the lab to adopt)")
    from flows.build_and_destroy import build_and_destroy as flow

    spec = build_spec(a, a.name or "swarmlab")
    if a.command == "demo":  # a real smoke check from this machine through HAProxy (prefect-shell hooks)
        from tasks.hooks import SMOKE_CHECK

        spec = spec.model_copy(update={"hooks": SMOKE_CHECK})
    yen = flow(spec, a.credentials, a.ssh_key, drills=not a.no_drills,
               lab_prefix=None if a.name else (a.prefix or "demo"), adopt=a.adopt)
    return {"accrued_yen": yen}


def run(a: argparse.Namespace, parser_: argparse.ArgumentParser) -> tuple[object, bool]:
    """The command's JSON output and whether it succeeded."""
    if a.command in ("demo", "build-and-destroy"):
        return build_and_destroy(a, parser_), True
    if a.command == "teardown":
        return teardown(a), True
    if a.command == "cost-guard":
        from flows.cost_guard import cost_guard

        decisions = cost_guard(zones=a.zone, interval_minutes=a.interval_minutes, default_budget_yen=a.budget_yen,
                               dry_run=a.dry_run, credentials=a.credentials)
        return [d.model_dump(mode="json") for d in decisions], True
    spec = build_spec(a, a.name)
    if a.command == "provision":
        from flows.provision import provision

        return provision(spec, credentials=a.credentials, ssh_key=a.ssh_key).model_dump(mode="json"), True
    from flows.exercise import exercise_lab

    report = exercise_lab(spec, credentials=a.credentials, ssh_key=a.ssh_key, fail_on_verdict=False)
    return report.model_dump(mode="json"), report.passed


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    try:
        out, ok = run(a, p)
    except Usage as e:
        print(f"{p.prog} {a.command}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the flow run's log has the traceback; the user gets the message
        print(f"{p.prog} {a.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
