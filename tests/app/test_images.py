"""The stack's images (images/app, images/web, images/postgres), built FROM lab/base:bookworm with the
docker SDK and run together on a bridge network the way the stack runs them: db with its password in a
secret-like file and its data in a host directory, app, and web in front. Nothing is pushed.

The images stay tagged swarmlab-test/{app,web,postgres}:t1 so a re-run reuses the layer cache.
"""

from __future__ import annotations

import io
import secrets
import shutil
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import docker
import httpx
import psycopg2
import pytest
from docker.errors import BuildError, ImageNotFound, NotFound

from swarmlab.render.stack import APP_HEALTHCHECK, DB_HEALTHCHECK, WEB_HEALTHCHECK
from swarmlab.sakura.wait import Deadline

ROOT = Path(__file__).resolve().parents[2]
BASE = "lab/base:bookworm"
VERSION = "t1"
TAGS = {name: f"swarmlab-test/{name}:{VERSION}" for name in ("app", "web", "postgres")}


def app_build_context() -> io.BytesIO:
    """The app image's context: the repository root restricted to images/app/Dockerfile and app/."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(ROOT / "images/app/Dockerfile", "images/app/Dockerfile")
        for p in sorted((ROOT / "app").rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                tar.add(p, p.relative_to(ROOT).as_posix())
    buf.seek(0)
    return buf


def build(client: docker.DockerClient, name: str) -> float:
    kw = dict(tag=TAGS[name], buildargs={"BASE": BASE, "VERSION": VERSION}, rm=True, forcerm=True, pull=False)
    start = time.monotonic()
    try:
        if name == "app":
            client.images.build(fileobj=app_build_context(), custom_context=True,
                                dockerfile="images/app/Dockerfile", **kw)
        else:
            client.images.build(path=str(ROOT / "images" / name), **kw)
    except BuildError as e:
        tail = "".join(str(c.get("stream", c.get("error", ""))) for c in list(e.build_log)[-30:])
        pytest.fail(f"building {TAGS[name]} failed: {e.msg}\n{tail}")
    return time.monotonic() - start


@pytest.fixture(scope="session")
def docker_client():
    client = docker.from_env(timeout=900)
    try:
        client.images.get(BASE)
    except ImageNotFound:
        pytest.fail(f"{BASE} is missing: build it with `python -m emulator.images` (scripts/test.sh does)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def images(docker_client):
    times = {name: build(docker_client, name) for name in TAGS}
    print("image build seconds:", {k: round(v, 1) for k, v in times.items()})
    return times


class Lab:
    """Containers on one user-defined bridge network (Docker's DNS at 127.0.0.11, like an overlay)."""

    def __init__(self, client: docker.DockerClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.net = client.networks.create(f"swarmlab-test-{uuid.uuid4().hex[:8]}", driver="bridge")
        self.containers: list[str] = []
        self.password = secrets.token_urlsafe(18)
        self.secret = root / "secrets" / "db_password"
        self.secret.parent.mkdir()
        self.secret.write_text(self.password + "\n")
        self.secret.chmod(0o444)

    def run(self, image: str, alias: str, env: dict[str, str] | None = None,
            binds: dict[str, str] | None = None) -> str:
        api = self.client.api
        name = f"{self.net.name}-{alias}-{len(self.containers)}"
        c = api.create_container(
            image, name=name, environment=env or {}, detach=True,
            host_config=api.create_host_config(binds=[f"{src}:{dst}" for src, dst in (binds or {}).items()]),
            networking_config=api.create_networking_config(
                {self.net.name: api.create_endpoint_config(aliases=[alias])}))
        self.containers.append(c["Id"])
        api.start(c["Id"])
        return c["Id"]

    def run_db(self, data: Path, **env: str) -> str:
        env = {"POSTGRES_PASSWORD_FILE": "/run/secrets/db_password", **env}
        return self.run(TAGS["postgres"], "db", env, {
            str(self.secret): "/run/secrets/db_password:ro", str(data): "/var/lib/postgresql/data"})

    def run_app(self) -> str:
        return self.run(TAGS["app"], "app", {"DB_HOST": "db", "DB_PASSWORD_FILE": "/run/secrets/db_password"},
                        {str(self.secret): "/run/secrets/db_password:ro"})

    def ip(self, cid: str) -> str:
        return self.client.api.inspect_container(cid)["NetworkSettings"]["Networks"][self.net.name]["IPAddress"]

    def exec(self, cid: str, cmd: list[str], user: str = "") -> tuple[int, str]:
        r = self.client.containers.get(cid).exec_run(cmd, user=user)
        return r.exit_code, r.output.decode(errors="replace")

    def logs(self, cid: str) -> str:
        return self.client.api.logs(cid).decode(errors="replace")

    def remove(self, cid: str) -> None:
        try:
            self.client.api.remove_container(cid, force=True)
        except NotFound:
            pass

    def wait_db(self, cid: str, timeout: float = 60) -> None:
        deadline = Deadline(timeout)
        while self.exec(cid, DB_HEALTHCHECK[1:])[0] != 0:
            state = self.client.api.inspect_container(cid)["State"]
            assert state["Running"], f"db exited ({state['ExitCode']}):\n{self.logs(cid)}"
            assert not deadline.passed, f"db not ready within {timeout}s:\n{self.logs(cid)}"
            time.sleep(0.3)

    def close(self) -> None:
        for cid in self.containers:
            self.remove(cid)
        self.net.remove()


def wait_http(url: str, timeout: float = 60, status: int = 200) -> httpx.Response:
    deadline = Deadline(timeout)
    last = None
    while not deadline.passed:
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code == status:
                return last
        except httpx.TransportError as e:
            last = e
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s: {last!r}")


@pytest.fixture
def lab(docker_client, images):
    root = Path(tempfile.mkdtemp(prefix="swarmlab-img-"))
    lab = Lab(docker_client, root)
    yield lab
    lab.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stack(lab):
    """db + app + web up and healthy; returns (lab, ids, web URL, app URL, data dir)."""
    data = lab.root / "nfs" / "pgdata"
    data.mkdir(parents=True)  # created by root, as the flow's mkdir on the share does
    ids = {"db": lab.run_db(data), "app": lab.run_app(), "web": lab.run(TAGS["web"], "web")}
    web, app = f"http://{lab.ip(ids['web'])}", f"http://{lab.ip(ids['app'])}:8000"
    lab.wait_db(ids["db"])
    wait_http(app + "/healthz")
    wait_http(web + "/healthz")
    return lab, ids, web, app, data


def test_images_build_from_the_lab_base(docker_client, images):
    for name, tag in TAGS.items():
        img = docker_client.images.get(tag)
        assert img.attrs["Config"]["Env"], tag
    app = docker_client.images.get(TAGS["app"]).attrs["Config"]
    assert f"APP_VERSION={VERSION}" in app["Env"] and app["User"] == "app"
    assert docker_client.images.get(TAGS["postgres"]).attrs["Config"]["StopSignal"] == "SIGINT"


def test_web_serves_version_page_healthz_and_proxies_api(stack):
    lab, ids, web, app, _ = stack
    page = httpx.get(web + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert f'<b id="version">{VERSION}</b>' in page.text
    assert httpx.get(web + "/healthz").text == "ok\n"
    assert httpx.get(web + "/version").json()["version"] == VERSION
    assert httpx.get(web + "/nope").status_code == 404
    v = httpx.get(web + "/api/version").json()
    assert v["version"] == VERSION and v["hostname"] == lab.client.api.inspect_container(ids["app"])["Config"]["Hostname"]
    r = httpx.post(web + "/api/notes", json={"text": "through nginx"})
    assert r.status_code == 201, r.text
    assert [n["text"] for n in httpx.get(web + "/api/notes?limit=10").json()] == ["through nginx"]
    assert httpx.get(web + "/api/visits").json()["count"] == 1
    assert httpx.get(app + "/docs").status_code == 200


def test_rendered_healthchecks_pass_in_the_images(stack):
    lab, ids, *_ = stack
    for svc, check in (("db", DB_HEALTHCHECK), ("app", APP_HEALTHCHECK), ("web", WEB_HEALTHCHECK)):
        assert check[0] == "CMD"
        code, out = lab.exec(ids[svc], check[1:])
        assert code == 0, f"{svc} healthcheck failed: {out}"
    lab.client.api.stop(ids["db"], timeout=20)
    code, out = lab.exec(ids["app"], APP_HEALTHCHECK[1:])
    assert code == 0, f"app liveness must not depend on the database: {out}"  # no restarts while db moves


def test_web_and_app_drain_on_stop_health_503_while_still_serving(lab):
    import threading

    ids = {"web": lab.run(TAGS["web"], "web", {"DRAIN_SECONDS": "3"}),
           "app": lab.run(TAGS["app"], "app", {"DB_HOST": "db", "DRAIN_SECONDS": "3"})}
    urls = {"web": (f"http://{lab.ip(ids['web'])}/healthz", f"http://{lab.ip(ids['web'])}/"),
            "app": (f"http://{lab.ip(ids['app'])}:8000/livez", f"http://{lab.ip(ids['app'])}:8000/version")}
    for health, _ in urls.values():
        wait_http(health)
    stops = [threading.Thread(target=lab.client.api.stop, args=(cid,), kwargs={"timeout": 20}) for cid in ids.values()]
    t0 = time.monotonic()
    for t in stops:
        t.start()
    time.sleep(0.8)
    for name, (health, page) in urls.items():
        assert httpx.get(health, timeout=3).status_code == 503, name
        assert httpx.get(page, timeout=3).status_code == 200, name
    for t in stops:
        t.join(30)
    took = time.monotonic() - t0
    assert 2.5 < took < 15, f"stopping took {took:.1f} s"
    for name, cid in ids.items():
        state = lab.client.api.inspect_container(cid)["State"]
        assert not state["Running"] and state["ExitCode"] == 0, (name, state["ExitCode"], lab.logs(cid)[-500:])


def test_app_runs_unprivileged_and_without_pip(stack):
    lab, ids, *_ = stack
    assert lab.exec(ids["app"], ["id", "-un"]) == (0, "app\n")
    assert lab.exec(ids["app"], ["python3", "-c", "import fastapi, psycopg2, uvicorn"])[0] == 0
    assert lab.exec(ids["app"], ["sh", "-c", "command -v pip pip3"])[0] != 0


def test_postgres_auth_is_scram_and_not_published(stack):
    lab, ids, _, _, data = stack
    host = lab.ip(ids["db"])
    with psycopg2.connect(host=host, dbname="app", user="app", password=lab.password, connect_timeout=5) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, current_setting('password_encryption')")
            assert cur.fetchone() == ("app", "scram-sha-256")
    for kwargs in ({"user": "app", "password": "wrong"}, {"user": "app"}, {"user": "postgres"},
                   {"user": "postgres", "password": ""}):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host=host, dbname="app", connect_timeout=5, **kwargs).close()
    hba = (data / "pgdata" / "pg_hba.conf").read_text()
    assert "trust" not in hba and "host  all all all            scram-sha-256" in hba
    assert not lab.client.api.inspect_container(ids["db"])["NetworkSettings"]["Ports"].get("5432/tcp")
    assert (data / "pgdata").stat().st_mode & 0o777 == 0o700


def test_app_survives_db_restart_and_move_keeping_data(stack):
    lab, ids, web, app, data = stack
    assert httpx.post(web + "/api/notes", json={"text": "keep me"}).status_code == 201
    assert httpx.get(web + "/api/visits").json()["count"] == 1

    lab.client.api.restart(ids["db"], timeout=20)
    lab.wait_db(ids["db"])
    r = httpx.get(app + "/notes")  # pooled connections are dead: the app retries on a fresh one
    assert r.status_code == 200, r.text
    assert [n["text"] for n in r.json()] == ["keep me"]

    # the task moves: the old container is gone, a new one starts on the same (NFS) data directory
    lab.remove(ids["db"])
    new_db = lab.run_db(data)
    lab.wait_db(new_db)
    assert httpx.get(web + "/api/visits").json()["count"] == 2
    assert [n["text"] for n in httpx.get(web + "/api/notes").json()] == ["keep me"]
    assert "initialising" not in lab.logs(new_db)
    assert "retrying on a fresh connection" in lab.logs(ids["app"])


def test_web_follows_the_app_to_a_new_address(stack):
    """nginx resolves `app` per request (resolver + variable): a replaced app task is followed."""
    lab, ids, web, *_ = stack
    new_app = lab.run_app()
    wait_http(f"http://{lab.ip(new_app)}:8000/healthz")
    old_ip, new_ip = lab.ip(ids["app"]), lab.ip(new_app)
    assert old_ip != new_ip
    lab.remove(ids["app"])
    time.sleep(6)  # the resolver caches answers for 5s
    new_host = lab.client.api.inspect_container(new_app)["Config"]["Hostname"]
    for _ in range(5):
        r = httpx.get(web + "/api/version", timeout=10)
        assert r.status_code == 200 and r.json()["hostname"] == new_host


def test_postgres_trust_only_when_asked_and_switched_off_again(lab):
    data = lab.root / "trustdata"
    data.mkdir()
    db = lab.run_db(data, POSTGRES_TRUST="1")
    lab.wait_db(db)
    host = lab.ip(db)
    psycopg2.connect(host=host, dbname="app", user="app", connect_timeout=5).close()
    assert "POSTGRES_TRUST=1" in lab.logs(db)
    lab.remove(db)
    db = lab.run_db(data)
    lab.wait_db(db)
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=lab.ip(db), dbname="app", user="app", connect_timeout=5).close()
    psycopg2.connect(host=lab.ip(db), dbname="app", user="app", password=lab.password, connect_timeout=5).close()


def test_postgres_refuses_to_start_without_a_password(lab):
    data = lab.root / "nopw"
    data.mkdir()
    cid = lab.run(TAGS["postgres"], "db", {}, {str(data): "/var/lib/postgresql/data"})
    assert lab.client.api.wait(cid, timeout=60)["StatusCode"] == 1
    assert "no password" in lab.logs(cid)
    assert not (data / "pgdata" / "PG_VERSION").exists()
