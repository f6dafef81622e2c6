"""A throwaway PostgreSQL cluster (Debian's binaries, run as the `postgres` OS user) and the app served
by uvicorn in a subprocess (`python -m app`, as in the image) against it."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from swarmlab.sakura.wait import Deadline

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install -y postgresql "
                    "(scripts/bootstrap.sh should install it)")
    return Path(found[-1]).parent


@dataclass
class PgCluster:
    """A cluster in a private temp dir on a free loopback port; every command runs as `postgres`."""

    root: Path
    port: int
    bin: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "postgres.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _as_postgres(self, *cmd: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True,
                           input=input, cwd=self.root, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                               f"{self.log.read_text() if self.log.exists() else ''}")
        return r

    def init(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=peer",
                          "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\nfsync = off\n")

    def pg_ctl(self, action: str, *extra: str) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          *extra, action)

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")

    def psql(self, sql: str, db: str = "postgres") -> str:
        r = self._as_postgres(str(self.bin / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.root),
                              "-p", str(self.port), "-d", db, input=sql)
        return r.stdout.strip()


@pytest.fixture(scope="session")
def pg_cluster():
    pg_bin = _pg_bin()
    if os.geteuid() != 0:
        pytest.fail("tests/app runs PostgreSQL as the `postgres` OS user and needs root (runuser)")
    root = Path(tempfile.mkdtemp(prefix="swarmlab-pg-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = PgCluster(root=root, port=free_port(), bin=pg_bin)
    cluster.init()
    cluster.start()
    yield cluster
    cluster._as_postgres(str(pg_bin / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop",
                         check=False)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Database:
    name: str
    user: str
    password: str
    password_file: Path


@pytest.fixture
def database(pg_cluster, tmp_path):
    """A fresh database and owner with a random password (also written to a secret-like file)."""
    suffix = secrets.token_hex(4)
    db = Database(name=f"app_{suffix}", user=f"app_{suffix}", password=secrets.token_urlsafe(16),
                  password_file=tmp_path / "db_password")
    db.password_file.write_text(db.password + "\n")
    pg_cluster.psql(f"CREATE ROLE {db.user} LOGIN PASSWORD '{db.password}';\n"
                    f"CREATE DATABASE {db.name} OWNER {db.user};\n")
    yield db
    pg_cluster.psql(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE);\nDROP ROLE IF EXISTS {db.user};\n")


@dataclass
class AppProcess:
    proc: subprocess.Popen
    url: str
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def start_app(tmp: Path, env: dict[str, str], wait_path: str = "/version") -> AppProcess:
    port = free_port()
    log = tmp / f"app-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "APP_"))}
    full_env.update(APP_HOST="127.0.0.1", APP_PORT=str(port), APP_VERSION="test-1.2.3", PYTHONUNBUFFERED="1", **env)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)
    app = AppProcess(proc=proc, url=f"http://127.0.0.1:{port}", log=log)
    deadline = Deadline(30)
    while not deadline.passed:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{app.output()}")
        try:
            httpx.get(app.url + wait_path, timeout=2)
            return app
        except httpx.TransportError:
            time.sleep(0.1)
    stop_app(app)
    raise RuntimeError(f"the app did not answer within 30s:\n{app.output()}")


def stop_app(app: AppProcess) -> None:
    if app.proc.poll() is None:
        app.proc.terminate()
        try:
            app.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.proc.kill()
            app.proc.wait()


def app_env(pg: PgCluster, db: Database, **extra: str) -> dict[str, str]:
    return dict(DB_HOST="127.0.0.1", DB_PORT=str(pg.port), DB_NAME=db.name, DB_USER=db.user,
                DB_PASSWORD_FILE=str(db.password_file), **extra)


@pytest.fixture
def app_server(pg_cluster, database, tmp_path):
    app = start_app(tmp_path, app_env(pg_cluster, database))
    yield app
    stop_app(app)
