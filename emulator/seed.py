"""Static catalogue: zones, public archives, the sys-nfs note, plans and prices."""

from __future__ import annotations

import json

ZONES = {
    "is1a": (31001, "石狩第1ゾーン"), "is1b": (31002, "石狩第2ゾーン"),
    "tk1a": (21001, "東京第1ゾーン"), "tk1b": (21002, "東京第2ゾーン"), "tk1v": (29001, "Sandbox"),
}


def zone_obj(zone: str) -> dict:
    """A zone as the API embeds it; the VNC/FTP endpoints are names only (the emulator serves neither)."""
    zid, desc = ZONES[zone]
    region = "石狩" if zone.startswith("is") else "東京"
    host = {"HostName": f"sac-{zone}-ssl.sakura.ad.jp", "IPAddress": "192.0.2.1"}
    return {"ID": zid, "DisplayOrder": 20000000 + zid, "Name": zone, "Description": desc, "IsDummy": zone == "tk1v",
            "VNCProxy": dict(host), "FTPServer": dict(host),
            "Settings": {"Subnet": {"Plan": {"Member": [28, 27, 26], "Staff": [28, 27, 26, 25, 24]}}},
            "Region": {"ID": zid // 1000 * 10, "Name": region, "Description": region,
                       "NameServers": ["192.0.2.53", "192.0.2.54"]}}


def storage(zone: str, plan_id: int) -> dict:
    """The storage a disk or archive lives on (names only; there is no such machine)."""
    zid, _ = ZONES[zone]
    plan = {"ID": plan_id, "StorageClass": "iscsi9999", "Name": DISK_PLANS.get(plan_id, ("", ""))[0]}
    return {"ID": 1000000000 + zid, "Class": "iscsi9999", "Name": f"sac-{zone}-iscsi{plan_id}-st01",
            "Description": "", "Zone": zone_obj(zone), "DiskPlan": plan, "Capacity": []}


_COMMON = ["@size-extendable", "arch-64bit", "os-linux"]
ARCHIVES = [  # (name, tags)
    ("Ubuntu Server 24.04.2 LTS 64bit", ["current-stable", "distro-ubuntu", "distro-ver-24.04.2",
                                         "ubuntu-24.04-latest"]),
    ("Ubuntu Server 22.04.5 LTS 64bit", ["distro-ubuntu", "distro-ver-22.04.5", "ubuntu-22.04-latest"]),
    ("Ubuntu Server 20.04.6 LTS 64bit", ["distro-ubuntu", "distro-ver-20.04.6", "ubuntu-20.04-latest"]),
    ("Debian GNU/Linux 12.10 64bit", ["current-stable", "distro-debian", "distro-ver-12.10",
                                      "debian-12-latest"]),
]


def archive(name: str, tags: list[str], order: int) -> dict:
    return {
        "Name": name, "Description": "", "Tags": sorted(_COMMON + tags), "Availability": "available",
        "DisplayOrder": order, "Scope": "shared", "SizeMB": 20480, "MigratedMB": 20480,
        "Plan": {"ID": 2, "Name": "標準プラン", "StorageClass": "iscsi9999"}, "Icon": None,
    }


NFS_PLANS = {
    "HDD": [(100, 101), (500, 102), (1024, 103), (2048, 104), (4096, 105), (8192, 106), (12288, 107)],
    "SSD": [(20, 200), (100, 201), (500, 202), (1024, 203), (2048, 204), (4096, 205)],
}
NFS_PLAN_BY_ID = {pid: (kind, size) for kind, plans in NFS_PLANS.items() for size, pid in plans}


def sys_nfs_note() -> dict:
    content = {"plans": {kind: [{"size": size, "availability": "available", "planId": pid} for size, pid in plans]
                         for kind, plans in NFS_PLANS.items()}}
    return {"Name": "sys-nfs", "Description": "", "Tags": [f"@zone={z}" for z in ZONES],
            "Availability": "available", "Scope": "shared", "Class": "json",
            "Content": json.dumps(content), "Icon": None, "Remark": None}


SERVER_CPUS = (1, 2, 3, 4, 5, 6, 8, 10, 12)
SERVER_MEMORY_GB = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64)
DISK_SIZES_GB = (20, 40, 100, 250, 500, 750, 1024)
DISK_PLANS = {4: ("SSDプラン", "ssd"), 2: ("標準プラン", "hdd")}


def plan_id(cpu: int, gb: int, generation: int = 100) -> str:
    return f"{generation}{gb:03d}{cpu:03d}"


def server_plan(cpu: int, gb: int, commitment: str = "standard", generation: int = 100) -> dict:
    return {"ID": plan_id(cpu, gb, generation), "Name": f"プラン/{gb}GB-{cpu}Core", "CPU": cpu,
            "MemoryMB": gb * 1024, "GPU": 0, "GPUModel": "", "CPUModel": "uncategorized",
            "Commitment": commitment, "Generation": generation, "ConfidentialVM": False,
            "Availability": "available", "ServiceClass": server_class(cpu, gb)}


def server_plans() -> list[dict]:
    return [server_plan(c, g) for c in SERVER_CPUS for g in SERVER_MEMORY_GB]


def server_class(cpu: int, gb: int) -> str:
    return f"cloud/plan/core/{cpu}/memory/{gb}"


def disk_class(plan_id: int, size_gb: int) -> str:
    return f"cloud/disk/{DISK_PLANS.get(plan_id, ('', 'ssd'))[1]}/{size_gb}"


def nfs_class(plan_id: int) -> str:
    kind, size = NFS_PLAN_BY_ID[plan_id]
    return f"cloud/nfs/{kind.lower()}/{size}"


DATABASE_PLANS = (10, 30, 90, 240, 500, 1000)   # Plan.ID = size in GB (iaas-api-go types.DatabasePlans)


def database_class(plan_id: int) -> str:
    return f"cloud/appliance/database/{plan_id}gb"


SWITCH_CLASS = "cloud/switch/default"
REGISTRY_CLASS = "cloud/containerregistry"


def disk_plans() -> list[dict]:
    return [{"ID": pid, "Name": name, "StorageClass": "iscsi9999", "Availability": "available",
             "DisplayOrder": pid * 100, "Description": "",
             "Size": [{"SizeMB": g * 1024, "DisplaySize": g, "DisplaySuffix": "GB", "Availability": "available",
                       "ServiceClass": disk_class(pid, g)} for g in DISK_SIZES_GB]}
            for pid, (name, _) in DISK_PLANS.items()]


def service_classes(zone: str) -> list[dict]:
    """Prices (yen per hour/day/month): a 1-core/1 GB server 9/100/1991, a switch 11/110/2200, a 100 GB HDD
    NFS 9/99/1980, a 10 GB database appliance 22/220/4400, a 100 Mbps router 14/140/2750 and its /28 12/120/2400; other sizes are scaled from
    these (the emulator's values, not a price list)."""
    rows = []

    def add(path: str, name: str, hourly: int, daily: int, monthly: int):
        rows.append({"ServiceClassID": 50000 + len(rows) + 1, "ServiceClassName": name,
                     "ServiceClassPath": path, "DisplayName": name, "IsPublic": True,
                     "Price": {"Base": 0, "Hourly": hourly, "Daily": daily, "Monthly": monthly, "Zone": zone}})

    for c in SERVER_CPUS:
        for g in SERVER_MEMORY_GB:
            f = (c + g) / 2
            add(server_class(c, g), f"サーバ {c}コア/{g}GB", round(9 * f), round(100 * f), round(1991 * f))
    add(SWITCH_CLASS, "スイッチ", 11, 110, 2200)
    for kind, plans in NFS_PLANS.items():
        for size, _ in plans:
            f = size / 100 * (1 if kind == "HDD" else 2)
            add(f"cloud/nfs/{kind.lower()}/{size}", f"NFS {kind} {size}GB",
                round(9 * f), round(99 * f), round(1980 * f))
    for pid, (_, kind) in DISK_PLANS.items():
        for g in DISK_SIZES_GB:
            f = g / 20 * (1 if kind == "ssd" else 0.5)
            add(disk_class(pid, g), f"ディスク {kind.upper()} {g}GB", round(2 * f), round(20 * f), round(400 * f))
    for size in DATABASE_PLANS:
        f = 1 + size / 100
        add(database_class(size), f"データベース {size}GB", round(20 * f), round(200 * f), round(4000 * f))
    add(REGISTRY_CLASS, "コンテナレジストリ", 0, 0, 0)
    for mbps in INTERNET_BANDWIDTHS:
        f = mbps / 100
        add(f"cloud/internet/router/{mbps}m", f"ルータ+スイッチ {mbps}Mbps", round(14 * f), round(140 * f),
            round(2750 * f))
    for mask, f in ((28, 1), (27, 2), (26, 4)):
        add(f"cloud/global-ipaddress-v4/{mask}", f"グローバルIPアドレス /{mask}", 12 * f, 120 * f, 2400 * f)
    return rows


INTERNET_BANDWIDTHS = (100, 250, 500, 1000, 1500, 2000, 2500, 3000, 5000)


def internet_plans() -> list[dict]:
    """Router+switch bandwidth plans (`/product/internet`); the ID is the bandwidth in Mbps."""
    return [{"Index": i, "ID": mbps, "Name": f"{mbps}Mbps共有", "BandWidthMbps": mbps,
             "ServiceClass": f"cloud/internet/router/{mbps}m", "Availability": "available"}
            for i, mbps in enumerate(INTERNET_BANDWIDTHS)]
