"""swarmlab: build a Docker Swarm lab on SAKURA Cloud (or its local emulator), see it, keep it or tear it down.

  swarmlab plan     what `up` would do (resources, hosts, swarm, stack, cost), writes nothing
  swarmlab up       build the lab and keep it: URLs, how to SSH in, expiry
  swarmlab status   every lab in the zones: age, expiry, budget, yen so far, HAProxy, nodes Ready
  swarmlab exercise the failure drills on a built lab
  swarmlab down     delete everything the lab owns (plan shown, `yes` to confirm)
  swarmlab guard    tear down labs that are expired or over budget
  swarmlab demo     build, exercise and tear down a lab of the run's own
  swarmlab ssh HOST an SSH session to a lab host (lab key, pinned host key)

`COMMAND --help` for each. Exit codes: 0 ok, 1 failed, 2 usage. `python -m flows` is the same tool (with the
old names provision, teardown, cost-guard, build-and-destroy, which print JSON).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
from collections.abc import Callable
from functools import partial

from pydantic import ValidationError

from blocks.sakura import ZONE_RULE
from swarmlab.drills import DRILLS
from swarmlab.spec import PROFILES, LabSpec

PROG = "swarmlab"
EPILOG = (f"zone: {ZONE_RULE}. Credentials: --credentials BLOCK (a SakuraCloudCredentials block), else "
          "SAKURACLOUD_ACCESS_TOKEN / _SECRET over the usacloud profile (--usacloud-profile P / "
          "SAKURACLOUD_PROFILE, ~/.usacloud/current, default).")
FMT = argparse.RawDescriptionHelpFormatter
COMMANDS = ("plan", "up", "status", "exercise", "down", "guard", "demo", "ssh")


class Failed(Exception):
    """A command that ran and did not succeed (exit 1), with what to do."""


class Usage(Exception):
    """The command cannot go on as asked (exit 2)."""


# -- options ---------------------------------------------------------------------------------------

def _lab(p: argparse.ArgumentParser, how: str = "default") -> None:
    """how: "default" (swarmlab), "required", "optional" (None)."""
    kw = {"required": dict(required=True, help="the lab's name (required)"),
          "optional": dict(help="the lab's exact name (default: <prefix>-<yyyymmdd-hhmm>)"),
          "filter": dict(help="only this lab"),
          "one-of": dict(help="the lab's name (or --prefix)"),
          "up": dict(help="the lab's name (default swarmlab; a class is named by --prefix)"),
          "default": dict(default="swarmlab", help="the lab's name (default swarmlab)")}[how]
    p.add_argument("--lab", "--name", dest="lab", metavar="NAME", **kw)


def _cloud(p: argparse.ArgumentParser, *, zones: bool = False) -> None:
    if zones:
        p.add_argument("--zone", action="append", metavar="Z", help="a zone (repeatable; default: the zone rule's)")
    else:
        p.add_argument("--zone", metavar="Z", help="the lab's zone (see the zone rule below)")
    p.add_argument("--credentials", metavar="BLOCK", help="SakuraCloudCredentials block name (default: environment)")
    p.add_argument("--usacloud-profile", metavar="P", help="usacloud profile (~/.usacloud/P/config.json) for the "
                                                           "credentials: sets SAKURACLOUD_PROFILE")


def _spec(p: argparse.ArgumentParser, *, budget: bool = True) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default="local", help="lab profile (default local)")
    p.add_argument("--subnet", default="192.168.1.0/24", help="the lab switch's subnet")
    p.add_argument("--ssh-key", metavar="BLOCK", help="SSHKeyPair block name (default: .state/ssh/<lab>_ed25519)")
    p.add_argument("--admin-cidr", action="append", dest="admin_cidrs", metavar="CIDR",
                   help="where SSH may come from (repeatable; required by the seed profile: your public address/32)")
    if budget:
        p.add_argument("--ttl-hours", type=float, help="override the profile's ttl_hours (the lab's expiry)")
        p.add_argument("--budget-yen", type=int, help="override the profile's budget_yen")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (for machines) instead of text")


def _command(sub, name: str, doc: str, *options: Callable, alias_of: str | None = None,
             prints: bool = True) -> None:
    """A subcommand whose help is `doc` (a summary line, then its description and examples, as the command's
    docstring has them) with `options` (each adds arguments). An alias of an older name (`alias_of`) is
    unlisted (its `doc` has no summary) and prints JSON; a command that `prints` a result has --json."""
    doc = inspect.cleandoc(doc)
    summary, text = ("", doc) if alias_of else doc.split("\n\n", 1)
    kw = {} if alias_of else {"help": summary}
    c = sub.add_parser(name, formatter_class=FMT, description=text, epilog=EPILOG, **kw)
    c.set_defaults(command=alias_of or name, json=bool(alias_of))
    for add in (*options, _json) if prints and not alias_of else options:
        add(c)


def _down_opts(c) -> None:
    which = c.add_mutually_exclusive_group(required=True)
    _lab(which, "one-of")
    which.add_argument("--prefix", metavar="P", help="every lab named <P>-NN (a class made by `up --count`)")
    _cloud(c)
    c.add_argument("--dry-run", action="store_true", help="print the deletion plan, delete nothing")
    c.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    c.add_argument("--force", action="store_true", help="tear down even a protected lab")


def _guard_opts(c) -> None:
    _cloud(c, zones=True)
    c.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    c.add_argument("--interval-minutes", type=int, default=10, help="minutes until the guard's next run")
    c.add_argument("--budget-yen", type=int, default=1000, help="budget of a lab without a budget tag")


def _demo_opts(c) -> None:
    _lab(c, "optional")
    _cloud(c)
    _spec(c)
    c.add_argument("--prefix", help="prefix of the run's lab name (default: demo)")
    c.add_argument("--adopt", action="store_true", help="with --lab: build on (and destroy) an existing lab")
    c.add_argument("--no-drills", action="store_true", help="build and destroy only")


def _up_opts(c) -> None:
    c.add_argument("--engine", choices=("ssh", "local"), default="ssh",
                   help="where images are built: a manager's engine (ssh) or this machine's (local)")
    c.add_argument("--count", type=int, metavar="N", help="a class of N labs <prefix>-01..N, their subnets one "
                                                           "after another from --subnet (with --prefix)")
    c.add_argument("--prefix", metavar="P", help="the class's name prefix (with --count)")
    c.add_argument("--parallel", type=int, metavar="K", help="with --count: labs built at once (default 2)")
    c.add_argument("--total-budget-yen", type=int, metavar="Y",
                   help="with --count: refuse the class when its labs together are estimated above Y yen "
                        "(default: the sum of their budgets)")


def _exercise_opts(c) -> None:
    c.add_argument("--drill", action="append", dest="drills", choices=DRILLS, metavar="NAME",
                   help=f"run just this drill (repeatable; in their order): {', '.join(DRILLS)}")


def _status_opts(c) -> None:
    c.add_argument("--no-check", action="store_true", help="read the cloud only: no HTTP or SSH checks")


def _ssh_opts(c) -> None:
    c.add_argument("host", metavar="HOST", help="manager01, worker02, haproxy01, ... (then `-- COMMAND` if any)")
    _lab(c)
    _cloud(c)
    c.add_argument("--profile", choices=sorted(PROFILES), default="local", help="lab profile (its SSH user)")
    c.add_argument("--ssh-key", metavar="BLOCK", help="SSHKeyPair block name (default: .state/ssh/<lab>_ed25519)")
    c.add_argument("--print", action="store_true", help="print the ssh command line instead of running it")


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=FMT, epilog=EPILOG)
    sub = top.add_subparsers(dest="name", required=True, metavar="COMMAND")

    _command(sub, "plan", cmd_plan.__doc__, _lab, _cloud, _spec)
    _command(sub, "up", cmd_up.__doc__, partial(_lab, how="up"), _cloud, _spec, _up_opts)
    _command(sub, "status", cmd_status.__doc__, partial(_lab, how="filter"), partial(_cloud, zones=True),
             _status_opts)
    _command(sub, "exercise", cmd_exercise.__doc__, partial(_lab, how="required"), _cloud,
             partial(_spec, budget=False), _exercise_opts)
    _command(sub, "down", cmd_down.__doc__, _down_opts)
    _command(sub, "guard", cmd_guard.__doc__, _guard_opts)
    _command(sub, "demo", cmd_demo.__doc__, _demo_opts)
    _command(sub, "ssh", cmd_ssh.__doc__, _ssh_opts, prints=False)

    # the names `python -m flows` had (JSON output)
    _command(sub, "provision", cmd_provision.__doc__.split("\n\n", 1)[1], _lab, _cloud, _spec, alias_of="provision")
    _command(sub, "teardown", "`down`, printing JSON.\n\nexamples:\n  swarmlab teardown --lab lab1 --dry-run",
             _down_opts, alias_of="down")
    _command(sub, "cost-guard", "`guard`, printing JSON.\n\nexamples:\n  swarmlab cost-guard --dry-run",
             _guard_opts, alias_of="guard")
    _command(sub, "build-and-destroy", "`demo`, printing JSON.\n\nexamples:\n  swarmlab build-and-destroy "
             "--prefix ci --no-drills", _demo_opts, alias_of="demo")
    sub._choices_actions = [x for x in sub._choices_actions if x.dest in COMMANDS]  # old names stay unlisted
    return top


# -- commands --------------------------------------------------------------------------------------

def build_spec(a: argparse.Namespace, name: str | None = None, subnet: str | None = None) -> LabSpec:
    overrides = {k: v for k, v in (("ttl_hours", getattr(a, "ttl_hours", None)),
                                   ("budget_yen", getattr(a, "budget_yen", None)), ("zone", a.zone),
                                   ("admin_cidrs", getattr(a, "admin_cidrs", None))) if v is not None}
    try:
        return PROFILES[a.profile](name or a.lab, subnet or getattr(a, "subnet", "192.168.1.0/24"), **overrides)
    except ValidationError as e:
        raise Usage("; ".join(f"{'.'.join(map(str, x['loc'])) or 'spec'}: {x['msg']}" for x in e.errors())) from None


def buildable_spec(a: argparse.Namespace, name: str | None = None, subnet: str | None = None) -> LabSpec:
    """The spec for plan/up: the seed profile names who may SSH in (--admin-cidr) before anything else."""
    from swarmlab.cloud.provision import check_exposure
    from swarmlab.render.filters import AdminCidrsRequired

    spec = build_spec(a, name, subnet)
    try:
        check_exposure(spec)
    except AdminCidrsRequired as e:
        raise Usage(f"{e} (on the command line: --admin-cidr <address>/32)") from None
    return spec


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


def cmd_plan(a) -> tuple[object, str, bool]:
    """what `up` would do, without doing it

    Show what `up` would do, writing nothing: the cloud resources to create (+), per-host package
    and swarm changes and the stack to deploy (~) when the lab exists and answers over SSH, what
    could not be observed (?), and the cost estimate for the lab's TTL. A built lab plans to
    "No changes".

    examples:
      swarmlab plan --lab lab1
      swarmlab plan --lab lab1 --profile seed --admin-cidr 203.0.113.7/32 --zone tk1b --json
    """
    from flows import observe
    from swarmlab.cloud.plan import text

    plan = observe.plan(buildable_spec(a), a.credentials, a.ssh_key)
    return plan.summary(), text(plan), True


def class_specs(a: argparse.Namespace) -> list[LabSpec]:
    """`up --count N --prefix P`: the class's specs (names <P>-01.., subnets one after another)."""
    from swarmlab.spec import class_labs

    if a.count is None or not a.prefix:
        raise Usage("--count and --prefix go together: `up --count N --prefix P` builds labs P-01 .. P-N")
    if a.lab is not None:
        raise Usage("--lab names one lab; a class's labs are named by --prefix")
    if a.parallel is not None and a.parallel < 1:
        raise Usage(f"--parallel {a.parallel}: build at least one lab at a time")
    try:
        labs = class_labs(a.prefix, a.count, a.subnet)
    except ValueError as e:
        raise Usage(str(e)) from None
    return [buildable_spec(a, name, str(net)) for name, net in labs]


def cmd_up_class(a) -> tuple[object, str, bool]:
    from flows.build_labs import build_labs

    specs = class_specs(a)
    results = build_labs(specs, a.credentials, a.ssh_key, engine=a.engine, parallel=a.parallel or 2,
                         total_budget_yen=a.total_budget_yen)
    lines = [f"{len(results)} labs are up:"] + [f"  {r.lab}: {r.web_url}" for r in results]
    lines.append(f"  down:    {PROG} down --prefix {a.prefix}")
    return [r.model_dump(mode="json") for r in results], "\n".join(lines) + "\n", True


def cmd_up(a) -> tuple[object, str, bool]:
    """build the lab and keep it

    Build the lab (provision, hosts, swarm, images, stack, HAProxy) and keep it; a re-run on a built
    lab changes nothing. Prints its URLs, how to SSH in and when it expires (the cost guard tears
    it down then).

    examples:
      swarmlab up --lab lab1
      swarmlab up --lab lab1 --ttl-hours 8 --engine local
      swarmlab up --count 10 --prefix class --subnet 192.168.100.0/24 --total-budget-yen 3000
    """
    from flows import observe
    from flows.build import build_lab

    if a.count is not None or a.prefix or a.total_budget_yen is not None or a.parallel is not None:
        return cmd_up_class(a)
    a.lab = a.lab or "swarmlab"
    spec = buildable_spec(a)
    result = build_lab(spec, a.credentials, a.ssh_key, engine=a.engine)
    labs, _ = observe.status([a.zone] if a.zone else None, a.credentials, spec.name, check=False)
    s = labs[0] if labs else None
    hint = f"{PROG} ssh manager01 --lab {spec.name}" + (f" --zone {a.zone}" if a.zone else "")
    lines = [f"Lab {spec.name} is up ({len(result.changes)} changes, {result.seconds:g} s)"
             + (f" in {s.zone}" if s else ""),
             f"  web:     {result.web_url}", f"  docs:    {result.docs_url}", f"  ssh:     {hint}"]
    if s:
        lines.append(f"  expires: {s.expires:%Y-%m-%d %H:%M} UTC (the cost guard tears it down then), budget "
                     f"{s.budget_yen} yen, {s.yen:g} yen so far" if s.expires else "  expires: no expiry tag")
    lines.append(f"  down:    {PROG} down --lab {spec.name}")
    out = {**result.model_dump(mode="json"), "ssh": hint,
           "expires": s.expires.isoformat() if s and s.expires else None, "zone": s.zone if s else None}
    return out, "\n".join(lines) + "\n", True


def cmd_status(a) -> tuple[object, str, bool]:
    """every lab in the zones and what it costs

    List every lab in the zones: profile, age, expiry, budget, yen so far, URLs, whether HAProxy
    answers and how many nodes are Ready (when a manager answers over SSH).

    examples:
      swarmlab status
      swarmlab status --zone is1a --zone tk1b --json
    """
    from flows import observe
    from swarmlab.cost.status import text

    labs, zones = observe.status(a.zone, a.credentials, a.lab, check=not a.no_check)
    return [s.model_dump(mode="json") for s in labs], text(labs, zones), True


def cmd_exercise(a) -> tuple[object, str, bool]:
    """run the failure drills on a built lab

    Scale, rolling update, rollback, database restart, workers and managers down (and, on an edge
    pair, the HAProxy holding the VIP), with a probe through HAProxy; prints the report. --drill runs
    just those. Exit 1 when a drill fails.

    examples:
      swarmlab exercise --lab lab1
      swarmlab exercise --lab lab1 --drill "worker down" --drill "database restart"
    """
    from flows.exercise import exercise_lab
    from swarmlab.drills.verdict import markdown

    spec = build_spec(a)
    if "haproxy down" in (a.drills or ()) and spec.edge != "pair":
        raise Usage(f"--drill 'haproxy down' needs an edge pair; lab {spec.name} has a single HAProxy")
    report = exercise_lab(spec, credentials=a.credentials, ssh_key=a.ssh_key, fail_on_verdict=False, only=a.drills)
    return report.model_dump(mode="json"), markdown(report), report.passed


def cmd_down_prefix(a) -> tuple[object, str, bool]:
    """`down --prefix P`: every lab named <P>-NN in the zone, one plan, one confirmation."""
    from flows import observe
    from flows.teardown import teardown_lab

    labs, _ = observe.status([a.zone] if a.zone else None, a.credentials, check=False)
    names = sorted(s.lab for s in labs if re.fullmatch(rf"{re.escape(a.prefix)}-\d+", s.lab))
    plans = [teardown_lab(n, a.zone, a.credentials, dry_run=True, force=a.force) for n in names]
    items = [f"{p.lab}: {line}" for p in plans for line in p.plan]
    if a.dry_run or not items:
        head = (f"No lab named {a.prefix}-NN: nothing to delete." if not names else
                f"{len(names)} labs, {len(items)} resources would be deleted (dry run):\n"
                + "\n".join(f"  - {i}" for i in items))
        return [p.model_dump(mode="json") for p in plans], head + "\n", True
    confirm(f"{a.prefix}-* ({', '.join(names)})", plans[0].zone, items, yes=a.yes)
    done = [teardown_lab(n, a.zone, a.credentials, force=a.force) for n in names]
    text = "".join(f"Lab {d.lab}: deleted {len(d.deleted)}; nothing left.\n" for d in done)
    return [d.model_dump(mode="json") for d in done], text, True


def cmd_down(a) -> tuple[object, str, bool]:
    """delete everything the lab owns

    Show the deletion plan, ask for `yes` (in a terminal; else --yes is required), delete in
    dependency order and prove nothing is left. Only resources with the lab's tags and name go; a
    protected lab (swarmlab-protect-until in the future) needs --force.

    examples:
      swarmlab down --lab lab1 --dry-run
      swarmlab down --lab lab1 --yes
    """
    from flows.teardown import teardown_lab

    if a.prefix:
        return cmd_down_prefix(a)
    plan = teardown_lab(a.lab, a.zone, a.credentials, dry_run=True, force=a.force)
    if a.dry_run or not plan.plan:
        what = "\n".join(f"  - {line}" for line in plan.plan)
        head = (f"Lab {a.lab} in {plan.zone}: nothing to delete." if not plan.plan else
                f"Lab {a.lab} in {plan.zone}: {len(plan.plan)} resources would be deleted (dry run):\n{what}")
        return plan.model_dump(mode="json"), head + "".join(f"\n{w}" for w in plan.warnings if w) + "\n", True
    confirm(a.lab, plan.zone, plan.plan, yes=a.yes)
    done = teardown_lab(a.lab, a.zone, a.credentials, force=a.force)
    text = (f"Lab {a.lab} in {done.zone}: deleted {len(done.deleted)}, detached and left {len(done.detached)}, "
            f"already gone {len(done.already_gone)}; nothing left.\n")
    return done.model_dump(mode="json"), text, True


def cmd_guard(a) -> tuple[object, str, bool]:
    """tear down labs that are expired or over budget

    For every lab in the zones: accrued cost, expiry, protection → keep or teardown.

    examples:
      swarmlab guard --dry-run
      swarmlab guard --zone is1a --zone tk1b
    """
    from flows.cost_guard import cost_guard

    decisions = cost_guard(zones=a.zone, interval_minutes=a.interval_minutes, default_budget_yen=a.budget_yen,
                           dry_run=a.dry_run, credentials=a.credentials)
    lines = [f"{d.zone}/{d.lab}: {d.action} ({d.reason}); {d.accrued_yen:g} yen so far" for d in decisions]
    return ([d.model_dump(mode="json") for d in decisions],
            "\n".join(lines or ["No labs."]) + ("\n(dry run: nothing deleted)" if a.dry_run else "") + "\n", True)


def cmd_demo(a, top: argparse.ArgumentParser) -> tuple[object, str, bool]:
    """build, exercise and tear down a lab of the run's own

    Build a lab, run the drills, tear it down (always), print its cost. The lab is the run's own:
    `<prefix>-<yyyymmdd-hhmm>` (UTC), or --lab, which must not exist yet unless --adopt. An
    adopted lab that is protected is never torn down.

    examples:
      swarmlab demo
      swarmlab demo --prefix ci --no-drills
    """
    if a.lab and a.prefix:
        top.error(f"{a.name}: --lab and --prefix exclude each other")
    if a.adopt and not a.lab:
        top.error(f"{a.name}: --adopt needs --lab (the lab to adopt)")
    from flows.build_and_destroy import build_and_destroy

    spec = build_spec(a, a.lab or "swarmlab")
    if a.name == "demo":  # a real smoke check from this machine through HAProxy (prefect-shell hooks)
        from tasks.hooks import SMOKE_CHECK

        spec = spec.model_copy(update={"hooks": SMOKE_CHECK})
    yen = build_and_destroy(spec, a.credentials, a.ssh_key, drills=not a.no_drills,
                            lab_prefix=None if a.lab else (a.prefix or "demo"), adopt=a.adopt)
    return {"accrued_yen": yen}, f"Built, {'exercised, ' if not a.no_drills else ''}torn down: {yen:g} yen.\n", True


def cmd_provision(a) -> tuple[object, str, bool]:
    """create or adopt the lab's cloud resources, printing JSON

    Create or adopt every cloud resource of the lab; a re-run changes nothing.

    examples:
      swarmlab provision --lab lab1 --profile seed --zone tk1b
    """
    from flows.provision import provision

    inv = provision(build_spec(a), credentials=a.credentials, ssh_key=a.ssh_key)
    return inv.model_dump(mode="json"), "", True


def cmd_ssh(a) -> int:
    """an SSH session to a lab host

    Run ssh to HOST (manager01, worker02, haproxy01 or the full name) at its public address, with
    the lab's key and a known_hosts file holding only the host's pinned key
    (StrictHostKeyChecking=yes). After `--`, a command to run instead of a shell.

    examples:
      swarmlab ssh manager01 --lab lab1
      swarmlab ssh manager01 --lab lab1 -- docker node ls
      swarmlab ssh worker01 --lab lab1 --print
    """
    from flows import observe

    argv = observe.ssh_argv(build_spec(a), a.host, a.credentials, a.ssh_key, a.remote)
    if a.print:
        import shlex

        print(shlex.join(argv))
        return 0
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 1  # not reached


def run(a: argparse.Namespace, top: argparse.ArgumentParser) -> tuple[object, str, bool]:
    """The command's JSON output, its text and whether it succeeded."""
    if a.command == "demo":
        return cmd_demo(a, top)
    return {"plan": cmd_plan, "up": cmd_up, "status": cmd_status, "exercise": cmd_exercise, "down": cmd_down,
            "guard": cmd_guard, "provision": cmd_provision}[a.command](a)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    top = parser(prog)
    argv = list(sys.argv[1:] if argv is None else argv)
    remote = argv[argv.index("--") + 1:] if "--" in argv else []
    a = top.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if remote and a.command != "ssh":
        top.error(f"{a.name}: takes no remote command (`-- ...` is for ssh)")
    a.remote = remote
    if a.usacloud_profile:
        os.environ["SAKURACLOUD_PROFILE"] = a.usacloud_profile
    try:
        if a.command == "ssh":
            return cmd_ssh(a)
        out, text, ok = run(a, top)
    except Usage as e:
        print(f"{prog} {a.name}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the flow run's log has the traceback; the user gets the message
        print(f"{prog} {a.name}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if a.json or not text:
        print(json.dumps(out, indent=2, default=str))
    else:
        print(text, end="")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
