"""The app against a real PostgreSQL: every endpoint, password handling, startup before the database,
and reconnecting after the database restarts."""

from __future__ import annotations

import socket
import time

import httpx

from tests.app.conftest import app_env, start_app, stop_app
from swarmlab.sakura.wait import Deadline


def _wait_healthy(client: httpx.Client, timeout: float = 30) -> dict:
    deadline = Deadline(timeout)
    while True:
        r = client.get("/healthz")
        if r.status_code == 200:
            return r.json()
        assert not deadline.passed, f"/healthz still {r.status_code}: {r.text}"
        time.sleep(0.2)


def test_version_reports_image_tag_and_hostname(app_server):
    with app_server.client() as c:
        r = c.get("/version")
    assert r.status_code == 200
    assert r.json() == {"version": "test-1.2.3", "hostname": socket.gethostname()}


def test_healthz_ok_and_tables_created_at_startup(app_server, pg_cluster, database):
    with app_server.client() as c:
        body = _wait_healthy(c)
        assert body["status"] == "ok"
        deadline = Deadline(10)
        while not c.get("/healthz").json()["schema_ready"]:
            assert not deadline.passed, app_server.output()
            time.sleep(0.1)
    tables = pg_cluster.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                             "WHERE schemaname = 'public'", db=database.name)
    assert tables == "notes,visits"
    owner = pg_cluster.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'", db=database.name)
    assert owner == database.user


def test_notes_roundtrip(app_server):
    with app_server.client() as c:
        assert c.get("/notes").json() == []
        a = c.post("/notes", json={"text": "first"})
        b = c.post("/notes", json={"text": "second — ünïcode"})
        assert a.status_code == b.status_code == 201
        assert a.json()["text"] == "first" and b.json()["id"] > a.json()["id"]
        assert a.json()["hostname"] == socket.gethostname()
        assert "created_at" in a.json()
        notes = c.get("/notes").json()
        assert [n["text"] for n in notes] == ["first", "second — ünïcode"]
        assert [n["id"] for n in notes] == [a.json()["id"], b.json()["id"]]
        assert [n["text"] for n in c.get("/notes", params={"limit": 1}).json()] == ["first"]


def test_notes_validation(app_server):
    with app_server.client() as c:
        assert c.post("/notes", json={"text": ""}).status_code == 422
        assert c.post("/notes", json={}).status_code == 422
        assert c.get("/notes", params={"limit": 0}).status_code == 422


def test_visits_increment(app_server, pg_cluster, database):
    with app_server.client() as c:
        counts = [c.get("/visits").json()["count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert pg_cluster.psql("SELECT count FROM visits WHERE id = 1", db=database.name) == "3"


def test_openapi_docs(app_server):
    with app_server.client() as c:
        assert c.get("/docs").status_code == 200
        paths = c.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/version", "/notes", "/visits"} <= set(paths)


def test_reconnects_after_postgres_restart(app_server, pg_cluster):
    """The pooled connections die with the server; the next request must still succeed."""
    with app_server.client() as c:
        _wait_healthy(c)
        assert c.post("/notes", json={"text": "before restart"}).status_code == 201
        assert c.get("/visits").json()["count"] == 1
        pg_cluster.restart()
        r = c.get("/notes")
        assert r.status_code == 200, r.text
        assert [n["text"] for n in r.json()] == ["before restart"]
        pg_cluster.restart()
        assert c.post("/notes", json={"text": "after restart"}).status_code == 201
        pg_cluster.restart()
        assert c.get("/visits").json()["count"] == 2
        pg_cluster.restart()
        assert c.get("/healthz").status_code == 200
        assert [n["text"] for n in c.get("/notes").json()] == ["before restart", "after restart"]
    assert "retrying on a fresh connection" in app_server.output()


def test_healthz_503_while_postgres_is_down(app_server, pg_cluster):
    with app_server.client() as c:
        _wait_healthy(c)
        pg_cluster.stop()
        try:
            r = c.get("/healthz")
            assert r.status_code == 503
            body = r.json()
            assert body["status"] == "unavailable" and body["reason"].startswith("OperationalError")
            r = c.get("/notes")
            assert r.status_code == 503 and "database unavailable" in r.json()["detail"]
        finally:
            pg_cluster.start()
        assert c.get("/healthz").status_code == 200
        assert c.get("/notes").status_code == 200


def test_starts_before_the_database_and_creates_tables_once_it_is_up(pg_cluster, database, tmp_path):
    """The app listens at once and keeps retrying; the tables appear when the database comes up."""
    pg_cluster.stop()
    try:
        app = start_app(tmp_path, app_env(pg_cluster, database))
    finally:
        pg_cluster.start()
    try:
        with app.client() as c:
            _wait_healthy(c)
            assert c.post("/notes", json={"text": "late db"}).status_code == 201
        assert "database not ready" in app.output()
    finally:
        stop_app(app)


def test_wrong_password_is_503_with_reason_and_no_secret(pg_cluster, database, tmp_path):
    bad = tmp_path / "bad_password"
    bad.write_text("not-the-password")
    app = start_app(tmp_path, app_env(pg_cluster, database) | {"DB_PASSWORD_FILE": str(bad)})
    try:
        with app.client() as c:
            r = c.get("/healthz")
        assert r.status_code == 503
        assert "password authentication failed" in r.json()["reason"]
        assert "not-the-password" not in r.text and "not-the-password" not in app.output()
    finally:
        stop_app(app)


def test_missing_password_file_is_503(pg_cluster, database, tmp_path):
    app = start_app(tmp_path, app_env(pg_cluster, database) | {"DB_PASSWORD_FILE": str(tmp_path / "nope")})
    try:
        with app.client() as c:
            r = c.get("/healthz")
        assert r.status_code == 503
        assert r.json()["reason"].startswith("ConfigError: DB_PASSWORD_FILE")
    finally:
        stop_app(app)


def test_password_from_env(pg_cluster, database, tmp_path):
    env = app_env(pg_cluster, database)
    del env["DB_PASSWORD_FILE"]
    app = start_app(tmp_path, env | {"DB_PASSWORD": database.password})
    try:
        with app.client() as c:
            _wait_healthy(c)
            assert c.get("/visits").json()["count"] == 1
    finally:
        stop_app(app)


def test_tables_recreated_when_the_database_is_replaced(app_server, pg_cluster, database):
    """An empty database behind the same name (a fresh PGDATA): requests recreate the tables."""
    with app_server.client() as c:
        _wait_healthy(c)
        assert c.post("/notes", json={"text": "old"}).status_code == 201
        pg_cluster.psql("DROP TABLE notes, visits;", db=database.name)
        r = c.get("/notes")
        assert r.status_code == 200 and r.json() == []
        assert c.get("/visits").json()["count"] == 1


def test_livez_does_not_ask_the_database(app_server, pg_cluster):
    with app_server.client() as c:
        assert c.get("/livez").json() == {"status": "ok", "hostname": socket.gethostname()}
        pg_cluster.stop()
        try:
            assert c.get("/healthz").status_code == 503
            assert c.get("/livez").status_code == 200
        finally:
            pg_cluster.start()


def test_sigterm_drains_health_fails_requests_served_then_a_clean_exit(pg_cluster, database, tmp_path):
    app = start_app(tmp_path, app_env(pg_cluster, database, DRAIN_SECONDS="2"))
    try:
        with app.client() as c:
            assert c.get("/livez").status_code == 200
            t0 = time.monotonic()
            app.proc.terminate()
            time.sleep(0.3)
            assert c.get("/livez").status_code == 503 and c.get("/healthz").status_code == 503
            assert c.get("/version").status_code == 200  # still serving while HAProxy takes it out
            assert app.proc.wait(timeout=15) == 0
            assert time.monotonic() - t0 >= 1.9
    finally:
        stop_app(app)
