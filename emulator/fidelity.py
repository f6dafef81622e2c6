"""Keys the real API sends that the emulator's state does not model, added at render time so every
response carries at least the keys of SAKURA's captured bodies (tests/unit/fixtures/sakura/),
with the same value shapes. Values are neutral: null where nothing applies."""

from __future__ import annotations

import time

from . import seed

HOST = {"Class": "dynamic", "Version": 200, "SystemVersion": "SAKURA Internet [CLOUD SERVICE 2.0]"}


def _plan_id(out: dict) -> int:
    return int((out.get("Plan") or {}).get("ID") or 4)


def server(out: dict, zone: str) -> dict:
    if isinstance(out.get("ServerPlan"), dict):
        out["ServerPlan"].setdefault("ServiceClass", out.get("ServiceClass"))
    inst = out.get("Instance") or {}
    inst.setdefault("Server", {"ID": out["ID"]})
    for key in ("MigrationProgress", "MigrationSchedule", "IsMigrating", "MigrationAllowed", "CDROMStorage"):
        inst.setdefault(key, None)
    inst.setdefault("ModifiedAt", inst.get("StatusChangedAt"))
    if isinstance(inst.get("Host"), dict):
        for k, v in HOST.items():
            inst["Host"].setdefault(k, v)
    out.setdefault("Appliance", None)
    for d in out.get("Disks") or []:
        d.setdefault("ReinstallCount", 0)
        d.setdefault("Storage", {k: v for k, v in seed.storage(zone, _plan_id(d)).items()
                                 if k in ("ID", "Class", "Name", "Zone", "DiskPlan")})
        d.setdefault("BundleInfo", None)
    return out


def disk(out: dict, zone: str) -> dict:
    for key in ("WaitingJobCount", "BundleID", "BundleInfo", "Appliance"):
        out.setdefault(key, None)
    out.setdefault("ReinstallCount", 0)
    out.setdefault("Storage", seed.storage(zone, _plan_id(out)))
    return out


def disk_job(out: dict, started_at: float, ready_at: float) -> None:
    """A copy in progress says when it should finish, as the real JobStatus does."""
    left = max(0, round(ready_at - time.time()))
    out["JobStatus"] = {**(out.get("JobStatus") or {}), "Delays": {"Finish": {"Max": left, "Min": left}}}


def switch(out: dict, zone: str) -> dict:
    out.setdefault("ApplianceCount", 0)
    out.setdefault("IPv6Nets", [])
    out.setdefault("Internet", None)
    return out


def note(out: dict, zone: str) -> dict:
    out.setdefault("Remark", None)
    return out


def archive(out: dict, zone: str) -> dict:
    for key in ("WaitingJobCount", "SourceInfo", "SourceDisk", "SourceArchive", "BundleInfo"):
        out.setdefault(key, None)
    out.setdefault("JobStatus", {"Status": "done", "Delays": {"Start": {"Max": 0, "Min": 0},
                                                             "Finish": {"Max": 0, "Min": 0}}})
    out.setdefault("OriginalArchive", {"ID": out["ID"]})
    out.setdefault("ServiceClass", f"cloud/archive/{(out.get('SizeMB') or 0) // 1024}g")
    out.setdefault("Storage", seed.storage(zone, _plan_id(out)))
    return out


def appliance(out: dict, zone: str) -> dict:
    remark = out.get("Remark") or {}
    for key in ("Plan", "Switch", "Zone") if out.get("Class") == "nfs" else ("Switch",):  # as each fixture has them
        ref = remark.get(key)
        if isinstance(ref, dict) and ref.get("ID") is not None:
            ref["ID"] = str(ref["ID"])
    sw = out.get("Switch")
    if isinstance(sw, dict):
        sw.update(Availability="available", Internet=None, Scope="user",
                  Zone={k: v for k, v in seed.zone_obj(zone).items() if k in ("ID", "Name", "Region")})
    for nic in out.get("Interfaces") or []:
        if isinstance(nic.get("Switch"), dict):
            nic["Switch"].setdefault("Subnet", None)
    return out
