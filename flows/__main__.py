"""Run a flow from the command line: `python -m flows provision|teardown|demo [--profile local] [--name N]`."""

from __future__ import annotations

import argparse
import json

from swarmlab.spec import PROFILES


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m flows")
    p.add_argument("flow", choices=["provision", "teardown", "demo"])
    p.add_argument("--profile", choices=sorted(PROFILES), default="local")
    p.add_argument("--name", default="swarmlab", help="lab name")
    p.add_argument("--subnet", default="192.168.1.0/24", help="the lab switch's subnet")
    p.add_argument("--credentials", help="SakuraCloudCredentials block name (default: SAKURACLOUD_* env)")
    p.add_argument("--ssh-key", help="SSHKeyPair block name (default: .state/ssh/<lab>_ed25519)")
    a = p.parse_args()
    spec = PROFILES[a.profile](a.name, a.subnet)

    from flows.provision import provision
    from flows.teardown import teardown_lab

    if a.flow in ("provision", "demo"):
        try:
            inv = provision(spec, credentials=a.credentials, ssh_key=a.ssh_key)
            print(json.dumps(inv.model_dump(mode="json"), indent=2))
        finally:
            if a.flow == "demo":
                teardown_lab(spec.name, spec.zone, credentials=a.credentials)
    else:
        print(json.dumps(teardown_lab(spec.name, spec.zone, credentials=a.credentials), indent=2))


if __name__ == "__main__":
    main()
