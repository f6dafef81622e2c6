"""Start and stop `python -m emulator` as its own process (for tests, benchmarks and scripts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from .poll import poll_until

ROOT = Path(__file__).resolve().parent.parent
# requests/s the flows use against an emulator on loopback: the most the credentials allow (SAKURA Cloud's own
# API is paced at its 10/s, under its own Prefect limit; see flows/ratelimit.py)
RATE_PER_S = 100
TOKEN, SECRET = "emulator-token", "emulator-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    port: int
    state: Path
    proc: subprocess.Popen
    log: Path
    instance: str
    backend: str
    token: str = TOKEN
    secret: str = SECRET
    zone: str = "is1a"

    @property
    def root(self) -> str:
        """API root without the zone part: `http://127.0.0.1:N/cloud/zone`."""
        return f"http://127.0.0.1:{self.port}/cloud/zone"

    def url(self, path: str, zone: str | None = None) -> str:
        return f"{self.root}/{zone or self.zone}/api/cloud/1.1/{path.lstrip('/')}"

    def faults(self, **faults) -> dict:
        """Set fault injection (busy_rate, delay_scale, fail_disks, ...) on the running emulator."""
        r = requests.put(self.admin_url("faults"), json=faults, auth=self.auth, timeout=5)
        r.raise_for_status()
        return r.json()

    @property
    def auth(self) -> tuple[str, str]:
        """Basic credentials of the API and of the admin endpoints (`/_emulator/*`)."""
        return self.token, self.secret

    def admin_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/_emulator/{name}"

    def env(self) -> dict[str, str]:
        """Environment that points the flows' default credentials at this emulator, paced at RATE_PER_S."""
        return {"SAKURACLOUD_API_ROOT_URL": self.root, "SAKURACLOUD_ACCESS_TOKEN": self.token,
                "SAKURACLOUD_ACCESS_TOKEN_SECRET": self.secret, "SAKURACLOUD_RATE_LIMIT": str(RATE_PER_S)}

    def stop(self, purge: bool = False) -> None:
        """Stop the process; with `purge`, also remove every Docker object of this instance."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if purge and self.backend == "docker":
            from emulator.docker import DockerBackend

            DockerBackend(self.instance, self.state.parent / self.instance, "192.0.2.0/24").purge()


def start(workdir: Path, backend: str = "memory", *extra: str, state: Path | None = None,
          port: int | None = None, instance: str | None = None, timeout_s: float = 120) -> Emulator:
    """Start an emulator process on loopback and wait until it answers.

    A fixed `instance` name lets the next start clean up after a crashed run of the same name.
    """
    port = port or free_port()
    instance = instance or f"emu-{port}"
    state = state or workdir / f"emulator-{port}.sqlite"
    log = workdir / f"emulator-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--backend", backend, "--port", str(port), "--state", str(state),
         "--instance", instance, *extra],
        cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
        env={**os.environ, "SAKURA_EMULATOR_TOKEN": TOKEN, "SAKURA_EMULATOR_SECRET": SECRET},
    )
    emu = Emulator(port=port, state=state, proc=proc, log=log, instance=instance, backend=backend)

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            health = requests.get(emu.admin_url("health"), auth=emu.auth, timeout=1)
            health.raise_for_status()
        except requests.RequestException:
            return False
        if health.json().get("instance") != instance:
            proc.kill()
            raise RuntimeError(f"port {port} is answered by another emulator ({health.json().get('instance')})")
        return True

    if poll_until(answers, timeout_s):
        return emu
    proc.kill()
    raise RuntimeError(f"emulator did not answer on port {port} within {timeout_s:.0f} s; see {log}")
