"""Controller-side hooks (`LabSpec.hooks`): shell commands run here through prefect-shell's ShellOperation."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_shell import ShellOperation

from swarmlab.cloud.inventory import Inventory
from swarmlab.errors import SwarmlabError
from swarmlab.release import edge
from swarmlab.spec import HooksSpec

STRICT = "set -euo pipefail"  # ShellOperation runs `bash file` without it: only the last exit code would count

#: the demo's smoke check from the controller, through HAProxy, as a user would reach the lab
SMOKE_CHECK = HooksSpec(
    after_build=['curl -fsS --max-time 10 -o /dev/null "$LAB_WEB_URL"',
                 'curl -fsS --max-time 10 -o /dev/null "$LAB_DOCS_URL"',
                 'echo "smoke check: lab $LAB_NAME answers at $LAB_WEB_URL and $LAB_DOCS_URL"'],
    before_teardown=['echo "lab $LAB_NAME: tearing down $(printf %s "$LAB_INVENTORY" | grep -o \'"role"\' | wc -l) '
                     'servers behind $LAB_HAPROXY"'])


class HookFailed(SwarmlabError, RuntimeError):
    """A hook command list of the lab's spec exited non-zero."""

    def __init__(self, lab: str, stage: str, detail: str):
        self.lab, self.stage = lab, stage
        super().__init__(f"lab {lab}: hooks.{stage} failed ({detail}); its output is in the run log. Fix the "
                         f"command in the spec's hooks.{stage} (it runs on this machine, not on a lab host)")


def hook_env(lab: str, inventory: Inventory | None = None, haproxy: str | None = None) -> dict[str, str]:
    """What a hook sees: LAB_NAME always; the URLs, HAProxy's address and the inventory once the lab is built."""
    env = {"LAB_NAME": lab}
    if haproxy:
        web, _, docs = edge.urls(haproxy)
        env |= {"LAB_WEB_URL": web, "LAB_DOCS_URL": docs, "LAB_HAPROXY": haproxy}
    if inventory is not None:
        env["LAB_INVENTORY"] = inventory.model_dump_json()
    return env


def shell_operation(commands: list[str], env: dict[str, str]) -> ShellOperation:
    return ShellOperation(commands=[STRICT, *commands], env=env, stream_output=True)


@task(name="run-hooks", task_run_name="hooks-{stage}-{lab}", cache_policy=NO_CACHE)
def run_hooks(lab: str, stage: str, commands: list[str], env: dict[str, str]) -> list[str]:
    """Run `commands` (one bash script, strict mode) with `env` over this process's environment; their output
    goes line by line to the run log. Returns the output lines; raises HookFailed naming the lab and stage."""
    if not commands:
        return []
    log = get_run_logger()
    log.info("lab %s: hooks.%s: %d command(s) on the controller with %s", lab, stage, len(commands),
             ", ".join(sorted(env)))
    try:
        with shell_operation(commands, env) as op:  # leaving the block deletes the script it wrote
            return op.run()
    except RuntimeError as e:
        raise HookFailed(lab, stage, str(e).splitlines()[0][:200]) from None
