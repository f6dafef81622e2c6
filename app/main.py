"""The app: health, version, notes and a visit counter. OpenAPI docs at /docs.

Environment: APP_VERSION (the image tag, baked in at build time), DB_HOST, DB_PORT, DB_NAME, DB_USER,
DB_PASSWORD or DB_PASSWORD_FILE (a Docker secret under /run/secrets/), DB_CONNECT_TIMEOUT.

/livez says whether this process serves (no database involved): HAProxy and Docker's health check use
it, so a database that moves does not take every app task out of rotation or get them restarted.
/healthz says whether the database answers too. Both answer 503 while the process drains before it
stops (`python3 -m app` sets DRAINING on SIGTERM and keeps serving for DRAIN_SECONDS), so HAProxy takes
it out of rotation before it closes its socket.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.db import DB_ERRORS, Database, Settings, describe

log = logging.getLogger("app")

VERSION = os.environ.get("APP_VERSION", "dev")
HOSTNAME = socket.gethostname()
STARTUP_RETRY_MAX_S = 5.0
DRAINING = threading.Event()  # set on SIGTERM by app.__main__: health checks fail, requests are still served


class NoteIn(BaseModel):
    text: str = Field(..., min_length=1, max_length=10_000)


class Note(BaseModel):
    id: int
    text: str
    hostname: str
    created_at: datetime


class Visits(BaseModel):
    id: int
    count: int
    updated_at: datetime
    hostname: str


class _SchemaInit:
    """Creates the tables in the background at startup, retrying while the database is not up.

    In the background so the app listens at once: /healthz can say why it is not ready, and requests
    create the tables themselves if they come first.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="schema-init", daemon=True)

    def _loop(self) -> None:
        delay = 0.25
        while not self.stop.is_set() and not self.db.schema_ready:
            try:
                self.db.run(lambda cur: None, retry=False)
            except Exception as e:  # noqa: BLE001 - any failure: the database is not ready yet
                log.warning("database not ready (%s); retrying in %.1fs", describe(e), delay)
                self.stop.wait(delay)
                delay = min(delay * 2, STARTUP_RETRY_MAX_S)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.db.close()


db = Database(Settings.from_env())
_init = _SchemaInit(db)


def _startup() -> None:
    log.info("app %s on %s; database %s:%s/%s", VERSION, HOSTNAME, db.settings.host, db.settings.port,
             db.settings.name)
    _init.start()


def _shutdown() -> None:
    _init.close()


@asynccontextmanager
async def _lifespan(_app):
    _startup()
    yield
    _shutdown()


_meta = dict(title="swarmlab app", version=VERSION,
             description="Notes and a visit counter in PostgreSQL; the service of the swarmlab stack.")
if "lifespan" in inspect.signature(FastAPI.__init__).parameters:
    app = FastAPI(lifespan=_lifespan, **_meta)
else:  # Debian bookworm's FastAPI 0.92 predates `lifespan`
    app = FastAPI(on_startup=[_startup], on_shutdown=[_shutdown], **_meta)


def _unavailable(e: Exception) -> HTTPException:
    return HTTPException(status_code=503, detail=f"database unavailable: {describe(e)}")


def _draining() -> JSONResponse:
    return JSONResponse(status_code=503, content={"status": "draining", "hostname": HOSTNAME})


@app.get("/livez")
def livez():
    """200 while this process serves requests (the database is not asked); 503 while it drains."""
    if DRAINING.is_set():
        return _draining()
    return {"status": "ok", "hostname": HOSTNAME}


@app.get("/healthz")
def healthz():
    """200 only if the database answers `SELECT 1` (and the process is not draining); 503 with the reason."""
    if DRAINING.is_set():
        return _draining()
    try:
        db.ping()
    except Exception as e:  # noqa: BLE001 - every failure is a reason to be unhealthy
        return JSONResponse(status_code=503, content={"status": "unavailable", "reason": describe(e),
                                                      "hostname": HOSTNAME})
    return {"status": "ok", "hostname": HOSTNAME, "schema_ready": db.schema_ready}


@app.get("/version")
def version():
    return {"version": VERSION, "hostname": HOSTNAME}


@app.post("/notes", status_code=201, response_model=Note)
def create_note(note: NoteIn):
    def insert(cur):
        cur.execute("INSERT INTO notes (text, hostname) VALUES (%s, %s) RETURNING id, text, hostname, created_at",
                    (note.text, HOSTNAME))
        return cur.fetchone()
    try:
        row = db.run(insert)
    except DB_ERRORS as e:
        raise _unavailable(e) from None
    return dict(zip(("id", "text", "hostname", "created_at"), row))


@app.get("/notes", response_model=list[Note])
def list_notes(limit: int = Query(100, ge=1, le=1000)):
    def select(cur):
        cur.execute("SELECT id, text, hostname, created_at FROM notes ORDER BY id LIMIT %s", (limit,))
        return cur.fetchall()
    try:
        rows = db.run(select)
    except DB_ERRORS as e:
        raise _unavailable(e) from None
    return [dict(zip(("id", "text", "hostname", "created_at"), r)) for r in rows]


@app.get("/visits", response_model=Visits)
def visits():
    """Count this visit and return the counter (it lives in the database, so it survives a DB move)."""
    def bump(cur):
        cur.execute("INSERT INTO visits (id, count) VALUES (1, 1) "
                    "ON CONFLICT (id) DO UPDATE SET count = visits.count + 1, updated_at = now() "
                    "RETURNING id, count, updated_at")
        return cur.fetchone()
    try:
        row = db.run(bump)
    except DB_ERRORS as e:
        raise _unavailable(e) from None
    return {"id": row[0], "count": row[1], "updated_at": row[2], "hostname": HOSTNAME}
