"""State core: resources in memory (write-through to SQLite) under one lock, IDs, events, lazy
transitions and the job pool for backend calls."""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from . import seed
from .backend import Backend
from .errors import bad, not_found
from .faults import Faults
from .store import Store

log = logging.getLogger("emulator")
JST = timezone(timedelta(hours=9))

# base delays in seconds, multiplied by Faults.delay_scale: `local` (the default) keeps a lab on this machine
# quick; `cloud` models SAKURA Cloud from public figures (docs/time-model.md): a disk copied from a public
# archive in minutes, a server up about a minute after its power call, the NFS appliance about 3 minutes
# (an acceptance test's 175 s end to end), the database appliance 10 minutes (its create "takes minutes";
# Terraform allows 60); switches, notes, filters and the registry answer at once.
TIMINGS = {
    "local": {"disk_copy": 2.0, "server_boot": 1.0, "server_shutdown": 1.0, "nfs_create": 3.0,
              "nfs_boot": 1.0, "nfs_shutdown": 1.0,
              "database_create": 3.0, "database_boot": 1.0, "database_shutdown": 1.0},
    "cloud": {"disk_copy": 180.0, "server_boot": 60.0, "server_shutdown": 20.0, "nfs_create": 175.0,
              "nfs_boot": 60.0, "nfs_shutdown": 20.0,
              "database_create": 600.0, "database_boot": 120.0, "database_shutdown": 30.0},
}

# kind -> (singular key, plural key); global kinds are stored once regardless of the URL's zone
KINDS = {
    "switch": ("Switch", "Switches"), "server": ("Server", "Servers"), "disk": ("Disk", "Disks"),
    "interface": ("Interface", "Interfaces"), "archive": ("Archive", "Archives"), "note": ("Note", "Notes"),
    "sshkey": ("SSHKey", "SSHKeys"), "appliance": ("Appliance", "Appliances"),
    "commonserviceitem": ("CommonServiceItem", "CommonServiceItems"),
    "packetfilter": ("PacketFilter", "PacketFilters"), "internet": ("Internet", "Internets"),
}
GLOBAL_KINDS = {"note", "sshkey", "commonserviceitem"}
EVENT_KINDS = {"server": "server", "disk": "disk", "switch": "switch", "appliance": "nfs",
               "commonserviceitem": "containerregistry", "internet": "internet"}


def now_iso() -> str:
    return datetime.now(JST).isoformat(timespec="seconds")


def public(rec: dict) -> dict:
    """A deep copy without internal (`_`-prefixed) fields."""
    return {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Core:
    def __init__(self, store: Store, backend: Backend, faults: Faults, workers: int = 16, timing: str = "local"):
        self.delays = TIMINGS[timing]
        self.lock = threading.RLock()
        self.store, self.backend, self.faults = store, backend, faults
        self.res = store.load()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emu-job")
        self._job_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._closing = threading.Event()
        with self.lock:
            if not store.get_meta("seeded"):
                self._seed()
                store.set_meta("seeded", "1")

    # ---- lifecycle
    def start(self) -> None:
        """Tell the backend what is live, then resume transitions that were pending at shutdown."""
        with self.lock:
            live = {rid for rid, r in self.res.items() if r["_kind"] not in ("archive",) and r.get("Scope") != "shared"}
            pending = [rid for rid, r in self.res.items() if r.get("_pending")]
        self.backend.start(live)
        for rid in pending:
            self._submit(rid)

    def close(self) -> None:
        """Stop waiting jobs (their pending state stays persisted and resumes on restart)."""
        self._closing.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.backend.stop()

    def _seed(self) -> None:
        for zone in seed.ZONES:
            for i, (name, tags) in enumerate(seed.ARCHIVES):
                self._insert("archive", zone, seed.archive(name, tags, i + 1))
        self._insert("note", "", seed.sys_nfs_note())

    # ---- records
    def _new_id(self) -> str:
        nxt = int(self.store.get_meta("next_id", "113100000001"))
        self.store.set_meta("next_id", str(nxt + 1))
        return str(nxt)

    def _insert(self, kind: str, zone: str, fields: dict, rid: str | None = None) -> dict:
        ts = now_iso()
        rec = {"ID": rid or self._new_id(), **fields, "_kind": kind, "_zone": "" if kind in GLOBAL_KINDS else zone}
        rec.setdefault("Tags", [])
        rec.setdefault("CreatedAt", ts)
        rec.setdefault("ModifiedAt", ts)
        self.res[rec["ID"]] = rec
        self.store.put(rec)
        return rec

    def _save(self, rec: dict, touch: bool = False) -> None:
        if touch:
            rec["ModifiedAt"] = now_iso()
        self.store.put(rec)

    def _remove(self, rec: dict) -> None:
        self.res.pop(rec["ID"], None)
        self.store.delete(rec["ID"])

    def _drop(self, rec: dict) -> None:
        """Remove a resource and record its deletion (caller holds self.lock)."""
        self._remove(rec)
        self._event(rec, "deleted")

    def _deleted(self, rec: dict) -> dict:
        """`_drop` a resource; returns it as rendered just before (what a DELETE answers)."""
        out = self.render(rec)
        self._drop(rec)
        return out

    def _backend_job(self, rid: str, call: Callable[[str], None]) -> None:
        """A backend side effect for one resource, serialised with its other jobs."""
        with self._job_lock(rid):
            call(rid)

    def _get(self, kind: str, zone: str, rid) -> dict:
        rec = self.res.get(str(rid))
        if not rec or rec["_kind"] != kind or (kind not in GLOBAL_KINDS and rec["_zone"] != zone):
            raise not_found(f"{kind} {rid}")
        return rec

    def _all(self, kind: str, zone: str | None = None) -> list[dict]:
        return sorted((r for r in self.res.values() if r["_kind"] == kind
                       and (zone is None or kind in GLOBAL_KINDS or r["_zone"] == zone)), key=lambda r: r["ID"])

    def _event(self, rec: dict, event: str) -> None:
        kind = EVENT_KINDS.get(rec["_kind"])
        if kind:
            at = datetime.now(JST).isoformat(timespec="milliseconds")
            self.store.event(at, rec["ID"], kind, event, {"zone": rec["_zone"], "name": rec.get("Name", ""),
                                                          "service_class": rec.get("ServiceClass", "")})

    def events(self) -> list[dict]:
        with self.lock:
            return self.store.events()

    def _delay(self, name: str) -> float:
        return self.delays[name] * self.faults.delay_scale

    def _set_status(self, rec: dict, status: str) -> None:
        inst = rec["Instance"]
        if inst.get("Status") != status:
            inst.update(BeforeStatus=inst.get("Status") or "", Status=status, StatusChangedAt=now_iso())
            if status in ("up", "down"):
                self._event(rec, status)

    def _still_creating(self, rec: dict) -> bool:
        return time.time() - rec.get("_created_ts", 0) < self.faults.still_creating_s

    # ---- lazy transitions (disks)
    def _settle(self) -> None:
        now = time.time()
        for rec in self.res.values():
            if rec["_kind"] == "disk" and rec["Availability"] == "migrating" and now >= rec["_ready_at"]:
                rec["Availability"] = rec["_final"]
                rec["MigratedMB"] = rec["SizeMB"] if rec["_final"] == "available" else 0
                rec["JobStatus"] = {"Status": "done" if rec["_final"] == "available" else "failed"}
                self._save(rec)
                self._event(rec, rec["_final"])

    # ---- jobs: backend calls off the request thread, serialized per resource, no global lock held
    def _submit(self, rid: str) -> None:
        self.pool.submit(self._run_job, rid)

    def _job_lock(self, rid: str) -> threading.Lock:
        with self.lock:
            return self._job_locks[rid]

    def _run_job(self, rid: str) -> None:
        with self._job_lock(rid):
            try:
                with self.lock:
                    rec = self.res.get(rid)
                    pend = rec and rec.get("_pending")
                    if not pend:
                        return
                    handler = getattr(self, f"_job_{rec['_kind']}")
                handler(rid, pend)
            except Exception:  # noqa: BLE001 - a failed job must not kill the worker
                log.exception("job for %s failed", rid)

    def _current(self, rid: str, pend: dict) -> dict | None:
        """The record, if it still exists and still has this pending operation (caller holds the lock)."""
        rec = self.res.get(rid)
        return rec if rec is not None and rec.get("_pending") == pend else None

    def _finish(self, rid: str, pend: dict) -> dict | None:
        """`_current`, with the pending operation cleared: the job's result is about to be written."""
        rec = self._current(rid, pend)
        if rec is not None:
            rec.pop("_pending")
        return rec

    @staticmethod
    def _backend_ok(what: str, call: Callable[[], None]) -> bool:
        """Run a backend call from a job; False (logged with `what`) if it raised."""
        try:
            call()
            return True
        except Exception:  # noqa: BLE001 - the job records the failure on the resource
            log.exception("%s failed", what)
            return False

    def _wait_due(self, pend: dict) -> bool:
        """Sleep until the transition is due; False if the emulator is shutting down meanwhile."""
        wait = pend.get("due", 0) - time.time()
        return not self._closing.wait(wait) if wait > 0 else not self._closing.is_set()

    # ---- generic update of plain fields
    def _apply_fields(self, rec: dict, body: dict, allowed: tuple[str, ...]) -> None:
        for key in allowed:
            if key in body:
                value = body[key]
                if key == "Tags":
                    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                        raise bad("invalid_format", "Tags must be a list of strings")
                    value = list(value or [])
                rec[key] = value
        rec["Tags"] = rec.get("Tags") or []
