"""`python -m emulator.purge INSTANCE [--state-dir DIR]`: remove every docker object labelled with an emulator
instance (containers, networks, volumes), its packet-filter rules and its state directory. For an instance
whose process is gone (killed, or stopped without --purge); stop a running one first."""

from __future__ import annotations

import argparse
from pathlib import Path

from .docker import DockerBackend

UNUSED_SUBNET = "192.0.2.0/24"      # purge does not create the shared network; any valid subnet will do


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m emulator.purge", description=__doc__)
    p.add_argument("instance", help="the emulator instance (`--instance`, default emu-<port>)")
    p.add_argument("--state-dir", type=Path, help="its state directory (default .state/<instance>)")
    args = p.parse_args(argv)
    state_dir = args.state_dir or Path(".state") / args.instance
    DockerBackend(args.instance, state_dir, UNUSED_SUBNET).purge()
    print(f"emulator instance {args.instance}: its docker objects and state are removed")


if __name__ == "__main__":
    main()
