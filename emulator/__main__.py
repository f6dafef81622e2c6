"""`python -m emulator --backend memory|docker --port N ...`: run the SAKURA Cloud API emulator."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from .api import create_app
from .backend import MemoryBackend
from .cloud import Cloud
from .faults import Faults
from .store import Store


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    p.add_argument("--backend", choices=("memory", "docker"), default="memory")
    p.add_argument("--port", type=int, default=8780)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--state", type=Path, help="SQLite state file (default .state/emulator-<port>.sqlite)")
    p.add_argument("--instance", help="instance name, scopes backend resources (default emu-<port>)")
    p.add_argument("--delay-scale", type=float, default=1.0, help="multiplies every async transition delay")
    p.add_argument("--busy-rate", type=float, default=0.0, help="share of API requests answered 503 busy")
    p.add_argument("--fail-disks", type=int, default=0, help="the next N disks created end `failed`")
    p.add_argument("--still-creating-s", type=float, default=0.0,
                   help="power calls within this many seconds of a server/NFS create answer 409 still_creating")
    p.add_argument("--shared-subnet", default="198.18.0.0/24", help="the shared segment (NIC0) subnet")
    return p.parse_args(argv)


def make_backend(args: argparse.Namespace, instance: str, state: Path):
    if args.backend == "memory":
        return MemoryBackend()
    try:
        from .docker import DockerBackend
    except ImportError as e:
        sys.exit(f"emulator: --backend docker needs emulator/docker/ (DockerBackend), "
                 f"which could not be imported: {e}")
    state_dir = state.parent / instance
    state_dir.mkdir(parents=True, exist_ok=True)
    return DockerBackend(instance=instance, state_dir=state_dir, shared_subnet=args.shared_subnet)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    instance = args.instance or f"emu-{args.port}"
    state = (args.state or Path.cwd() / ".state" / f"emulator-{args.port}.sqlite").resolve()
    faults = Faults()
    faults.update({"busy_rate": args.busy_rate, "delay_scale": args.delay_scale, "fail_disks": args.fail_disks,
                   "still_creating_s": args.still_creating_s})
    backend = make_backend(args, instance, state)
    cloud = Cloud(Store(state), backend, faults, shared_subnet=args.shared_subnet)
    if hasattr(backend, "on_server_down"):
        backend.on_server_down = cloud.server_went_down
    cloud.start()
    token = os.environ.get("SAKURA_EMULATOR_TOKEN", "emulator-token")
    secret = os.environ.get("SAKURA_EMULATOR_SECRET", "emulator-secret")
    app = create_app(cloud, token, secret, instance, args.backend)
    logging.getLogger("emulator").info("instance %s, backend %s, state %s, listening on %s:%d",
                                       instance, args.backend, state, args.host, args.port)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        cloud.close()


if __name__ == "__main__":
    main()
