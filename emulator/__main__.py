"""`python -m emulator --backend memory|docker --port N ...`: run the SAKURA Cloud API emulator."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import uvicorn

from .api import create_app
from .backend import MemoryBackend
from .cloud import Cloud
from .core import TIMINGS
from .faults import Faults
from .store import Store


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    p.add_argument("--backend", choices=("memory", "docker"), default="memory")
    p.add_argument("--port", type=int, default=8780)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--state", type=Path, help="SQLite state file (default .state/emulator-<port>.sqlite)")
    p.add_argument("--instance", help="instance name, scopes backend resources (default emu-<port>)")
    p.add_argument("--timing", choices=sorted(TIMINGS), default="local",
                   help="base delays of disk copy, boot, shutdown and NFS create: local (seconds) or cloud "
                        "(SAKURA Cloud's minutes, from public figures)")
    p.add_argument("--delay-scale", type=float, default=1.0, help="multiplies every async transition delay")
    p.add_argument("--busy-rate", type=float, default=0.0, help="share of API requests answered 503 busy")
    p.add_argument("--fail-disks", type=int, default=0, help="the next N disks created end `failed`")
    p.add_argument("--still-creating-s", type=float, default=0.0,
                   help="power calls within this many seconds of a server/NFS create answer 409 still_creating")
    p.add_argument("--shared-subnet", help="the shared segment (NIC0) subnet (default: memory "
                   f"{MEMORY_SHARED}; docker: the instance's existing one, else the first free /24 of 198.18.0.0/15)")
    p.add_argument("--purge", action="store_true",
                   help="on exit (SIGTERM, Ctrl-C) remove everything of this instance: its docker containers, "
                        "networks and volumes, packet-filter rules, its state directory and the --state file")
    return p.parse_args(argv)


MEMORY_SHARED = "198.18.0.0/24"
CLAIM_ATTEMPTS = 5


def make_backend(args: argparse.Namespace, instance: str, state: Path):
    """The backend and its shared subnet. The docker backend's shared network is made here, so an
    overlap fails before anything else (naming the holder); without --shared-subnet a free one is taken."""
    if args.backend == "memory":
        return MemoryBackend(), args.shared_subnet or MEMORY_SHARED
    try:
        import docker

        from .docker import DockerBackend
        from .docker.networks import SubnetTaken, free_shared_subnet
    except ImportError as e:
        sys.exit(f"emulator: --backend docker needs emulator/docker/ (DockerBackend), "
                 f"which could not be imported: {e}")
    state_dir = state.parent / instance
    state_dir.mkdir(parents=True, exist_ok=True)
    client = docker.from_env(timeout=120, max_pool_size=64)
    taken: set[str] = set()
    for attempt in range(CLAIM_ATTEMPTS):
        subnet = args.shared_subnet or free_shared_subnet(client, instance, taken)
        backend = DockerBackend(instance=instance, state_dir=state_dir, shared_subnet=subnet, client=client)
        try:
            backend.networks.ensure_shared()
            return backend, subnet
        except SubnetTaken as e:
            if args.shared_subnet or attempt == CLAIM_ATTEMPTS - 1:
                sys.exit(f"emulator: {e}")
            taken.add(subnet)       # another instance took it meanwhile: the next free one
    raise AssertionError("unreachable")


def purge(backend, state: Path) -> None:
    """--purge on exit: the backend's objects, then the state file and the instance's state directory."""
    if hasattr(backend, "purge"):
        backend.purge()
    for p in (state, state.with_name(state.name + "-wal"), state.with_name(state.name + "-shm")):
        p.unlink(missing_ok=True)
    state_dir = getattr(backend, "state_dir", None)
    if state_dir is not None:
        shutil.rmtree(state_dir, ignore_errors=True)


def _exit_on_sigterm(_sig, _frame) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    instance = args.instance or f"emu-{args.port}"
    state = (args.state or Path.cwd() / ".state" / f"emulator-{args.port}.sqlite").resolve()
    faults = Faults()
    faults.update({"busy_rate": args.busy_rate, "delay_scale": args.delay_scale, "fail_disks": args.fail_disks,
                   "still_creating_s": args.still_creating_s})
    backend, shared_subnet = make_backend(args, instance, state)
    cloud = Cloud(Store(state), backend, faults, shared_subnet=shared_subnet, timing=args.timing)
    if hasattr(backend, "on_server_down"):
        backend.on_server_down = cloud.server_went_down
    cloud.start()
    token = os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token")
    secret = os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret")
    app = create_app(cloud, token, secret, instance, args.backend)
    log = logging.getLogger("emulator")
    log.info("instance %s, backend %s, shared segment %s, timing %s × %g, state %s, listening on %s:%d%s", instance,
             args.backend, shared_subnet, args.timing, args.delay_scale, state, args.host, args.port,
             " (purged on exit)" if args.purge else "")
    # uvicorn re-raises SIGTERM after its graceful shutdown: make that an exit that runs the cleanup below
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second SIGTERM must not cut the cleanup short
        cloud.close()
        if args.purge:
            purge(backend, state)
            log.info("instance %s purged: no container, network, volume or state of it is left", instance)


if __name__ == "__main__":
    main()
