"""PostgreSQL access: settings from the environment, a small connection pool, reconnect-and-retry.

The stack's postgres task can move to another worker (worker down, rolling update), restart, or come
up after the app. So a connection is never trusted: a query that fails with OperationalError or
InterfaceError (server gone, connection closed) drops every pooled connection and runs once more on a
fresh one, which resolves `DB_HOST` again (with dnsrr, the new task's address).

Caveat of the retry: if the server dies after committing but before answering, the retried write
runs twice. The counter and notes tolerate that in a lab; a real service would use idempotency keys.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions

log = logging.getLogger("app.db")

T = TypeVar("T")

RETRYABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)

SCHEMA_LOCK = 7_071_998  # pg_advisory_xact_lock key: replicas starting together create tables one at a time
SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id         bigserial   PRIMARY KEY,
    text       text        NOT NULL,
    hostname   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS visits (
    id         smallint    PRIMARY KEY,
    count      bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


class ConfigError(RuntimeError):
    """The DB settings in the environment are unusable (e.g. an unreadable password file)."""


DB_ERRORS = (psycopg2.Error, ConfigError)  # what a request turns into 503 (anything else is a bug: 500)


@dataclass(frozen=True)
class Settings:
    host: str = "db"
    port: int = 5432
    name: str = "app"
    user: str = "app"
    password: str | None = None
    password_file: str | None = None
    connect_timeout: int = 2

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD or DB_PASSWORD_FILE (wins), DB_CONNECT_TIMEOUT."""
        e = os.environ if env is None else env
        return cls(host=e.get("DB_HOST", "db"), port=int(e.get("DB_PORT", "5432")),
                   name=e.get("DB_NAME", "app"), user=e.get("DB_USER", "app"),
                   password=e.get("DB_PASSWORD") or None, password_file=e.get("DB_PASSWORD_FILE") or None,
                   connect_timeout=int(e.get("DB_CONNECT_TIMEOUT", "2")))

    def read_password(self) -> str | None:
        """The password, read at every connect so a replaced secret file is picked up."""
        if self.password_file:
            try:
                with open(self.password_file, encoding="utf-8") as f:
                    return f.read().rstrip("\r\n")
            except OSError as e:
                raise ConfigError(f"DB_PASSWORD_FILE {self.password_file}: {e.strerror}") from None
        return self.password

    def connect_kwargs(self) -> dict:
        kw = dict(host=self.host, port=self.port, dbname=self.name, user=self.user,
                  connect_timeout=self.connect_timeout, application_name="swarmlab-app",
                  # notice a vanished server (its worker went down) within seconds, idle or not
                  keepalives=1, keepalives_idle=10, keepalives_interval=3, keepalives_count=3,
                  tcp_user_timeout=10_000)
        password = self.read_password()
        if password is not None:
            kw["password"] = password
        return kw


class Database:
    """A thread-safe pool of psycopg2 connections with one retry on a fresh connection."""

    def __init__(self, settings: Settings, max_idle: int = 4) -> None:
        self.settings = settings
        self.max_idle = max_idle
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self.schema_ready = False

    # -- connections -------------------------------------------------------------------------------
    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(**self.settings.connect_kwargs())
        conn.autocommit = False
        return conn

    def _acquire(self) -> psycopg2.extensions.connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return self._connect()

    def _release(self, conn: psycopg2.extensions.connection) -> None:
        if conn.closed or conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            _close(conn)
            return
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        _close(conn)

    def reset(self) -> None:
        """Close every pooled connection (after a failure they are all suspect)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn)

    close = reset

    # -- work --------------------------------------------------------------------------------------
    def run(self, work: Callable[[psycopg2.extensions.cursor], T], retry: bool = True, schema: bool = True) -> T:
        """Run `work(cursor)` in one transaction; on a connection-level error, once more on a fresh one.

        With `schema`, the tables are created first (in the same transaction) until that has succeeded once.
        """
        attempts = 2 if retry else 1
        for attempt in range(1, attempts + 1):
            conn = None
            try:
                conn = self._acquire()
                result = self._transaction(conn, work, schema)
            except RETRYABLE as e:
                if conn is not None:
                    _close(conn)
                self.reset()
                if attempt == attempts:
                    raise
                log.warning("database connection lost (%s); retrying on a fresh connection", describe(e))
                continue
            except psycopg2.errors.UndefinedTable:
                # the database was replaced by an empty one: create the tables again, then retry
                self._release(conn)
                self.schema_ready = False
                if attempt == attempts:
                    raise
                continue
            except BaseException:
                if conn is not None:
                    self._release(conn)
                raise
            self._release(conn)
            return result
        raise AssertionError("unreachable")

    def _transaction(self, conn, work, schema: bool):
        schema = schema and not self.schema_ready
        try:
            with conn.cursor() as cur:
                if schema:
                    _create_schema(cur)
                result = work(cur)
            conn.commit()
        except BaseException:
            if not conn.closed:
                try:
                    conn.rollback()
                except RETRYABLE:
                    pass
            raise
        if schema:
            self.schema_ready = True
            log.info("database schema ready on %s:%s/%s", self.settings.host, self.settings.port,
                     self.settings.name)
        return result

    def ping(self) -> None:
        """`SELECT 1` (with the usual one retry); raises if the database does not answer."""
        def select_one(cur):
            cur.execute("SELECT 1")
            return cur.fetchone()[0]
        if self.run(select_one, schema=False) != 1:
            raise RuntimeError("SELECT 1 did not return 1")


def _create_schema(cur) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    cur.execute(SCHEMA)


def _close(conn) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may fail in any way; it is gone either way
        pass


def describe(e: BaseException) -> str:
    """`Type: first line of the message` (psycopg2 messages carry no password)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")
