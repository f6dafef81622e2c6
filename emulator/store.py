"""SQLite persistence: resources (one JSON row each), the event log, and counters. Not thread-safe:
the caller (Cloud) holds its lock around every call."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (id TEXT PRIMARY KEY, kind TEXT NOT NULL, zone TEXT NOT NULL,
                                      data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                                   resource_id TEXT NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL,
                                   data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def load(self) -> dict[str, dict]:
        """All resources by id; each record carries `_kind` and `_zone`."""
        out = {}
        for rid, kind, zone, data in self.db.execute("SELECT id, kind, zone, data FROM resources"):
            rec = json.loads(data)
            rec.update(_kind=kind, _zone=zone)
            out[rid] = rec
        return out

    def put(self, rec: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO resources (id, kind, zone, data) VALUES (?, ?, ?, ?)",
                        (rec["ID"], rec["_kind"], rec["_zone"], json.dumps(rec)))

    def delete(self, rid: str) -> None:
        self.db.execute("DELETE FROM resources WHERE id = ?", (rid,))

    def event(self, at: str, rid: str, kind: str, event: str, data: dict) -> None:
        self.db.execute("INSERT INTO events (at, resource_id, kind, event, data) VALUES (?, ?, ?, ?, ?)",
                        (at, rid, kind, event, json.dumps(data)))

    def events(self) -> list[dict]:
        rows = self.db.execute("SELECT seq, at, resource_id, kind, event, data FROM events ORDER BY seq")
        return [{"seq": s, "at": at, "resource_id": rid, "kind": k, "event": e, **json.loads(d)}
                for s, at, rid, k, e, d in rows]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.db.close()
