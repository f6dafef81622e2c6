"""Price table: yen per ServiceClass path, from the API's public price list or the bundled walkthrough prices.

Billing (manual.sakura.ad.jp/cloud/en/payment/server-charge.html): an hourly rate, capped by a daily
rate per day and a monthly rate per month; an hour begun counts whole. SAKURA caps per calendar
month; we cap per 30 days (720 h), which is never cheaper than the real rule for runs under a month.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_DAY = 24
HOURS_PER_MONTH = 30 * HOURS_PER_DAY

# ServiceClass paths as the API (and the emulator) names them
SWITCH_CLASS = "cloud/switch/default"
REGISTRY_CLASS = "cloud/containerregistry"


def server_class(cpu: int, memory_gb: int) -> str:
    return f"cloud/plan/core/{cpu}/memory/{memory_gb}"


def disk_class(plan: str, size_gb: int) -> str:
    return f"cloud/disk/{plan.lower()}/{size_gb}"


def nfs_class(plan: str, size_gb: int) -> str:
    return f"cloud/nfs/{plan.lower()}/{size_gb}"


def database_class(size_gb: int) -> str:
    """A database appliance's plan (`cloud/appliance/database/<GB>gb`; the emulator's reading of the path)."""
    return f"cloud/appliance/database/{size_gb}gb"


def router_class(band_width_mbps: int) -> str:
    return f"cloud/internet/router/{band_width_mbps}m"


def ip_block_class(mask_len: int) -> str:
    return f"cloud/global-ipaddress-v4/{mask_len}"


# what a service class path starts with, per resource kind (for kind-level fallbacks)
FAMILIES = {"server": "cloud/plan/", "disk": "cloud/disk/", "switch": "cloud/switch/", "nfs": "cloud/nfs/",
            "database": "cloud/appliance/database/", "registry": "cloud/containerregistry", "router": "cloud/internet/router/",
            "ip block": "cloud/global-ipaddress-v4/"}


class Rate(BaseModel):
    """Yen per hour, capped per day and per month (None: no cap)."""
    model_config = ConfigDict(frozen=True)
    hourly: float = Field(ge=0)
    daily: float | None = Field(None, ge=0)
    monthly: float | None = Field(None, ge=0)

    def charge(self, hours: int) -> float:
        """What `hours` billed hours cost: whole days at the daily cap, then whole months at the monthly cap."""
        if hours <= 0:
            return 0.0
        day = min(self.daily, HOURS_PER_DAY * self.hourly) if self.daily is not None else HOURS_PER_DAY * self.hourly
        month_cap = self.monthly if self.monthly is not None else math.inf
        months, rest = divmod(hours, HOURS_PER_MONTH)
        days, h = divmod(rest, HOURS_PER_DAY)
        partial = min(days * day + min(h * self.hourly, day), month_cap)
        full_month = min(month_cap, (HOURS_PER_MONTH // HOURS_PER_DAY) * day)
        return months * full_month + partial

    def describe(self) -> str:
        caps = "".join(f" · {v:g}/{u}" for v, u in ((self.daily, "day"), (self.monthly, "month")) if v is not None)
        return f"{self.hourly:g}/h{caps}"


FREE = Rate(hourly=0, daily=0, monthly=0)

# The walkthrough's prices (seed step 1, 2, 4, 5, 17). Its server price includes the server's disk,
# so a disk is priced 0 here; the registry is a free "Lab" product.
BUNDLED: dict[str, Rate] = {
    server_class(1, 1): Rate(hourly=9, daily=100, monthly=1991),
    SWITCH_CLASS: Rate(hourly=11, daily=110, monthly=2200),
    nfs_class("hdd", 100): Rate(hourly=9, daily=99, monthly=1980),
    REGISTRY_CLASS: FREE,
}
BUNDLED_FAMILY: dict[str, Rate] = {  # a class the bundled table does not list: the walkthrough's rate of its kind
    "server": BUNDLED[server_class(1, 1)], "disk": FREE, "switch": BUNDLED[SWITCH_CLASS],
    "nfs": BUNDLED[nfs_class("hdd", 100)], "registry": FREE, "note": FREE,
    # the walkthrough prices no router+switch: assumed rates (a rate found this way says "assumed")
    "router": Rate(hourly=14, daily=140, monthly=2750), "ip block": Rate(hourly=12, daily=120, monthly=2400),
    "database": Rate(hourly=22, daily=220, monthly=4400),
}


class PriceTable(BaseModel):
    """Rates by ServiceClass path. `source` says where they came from: `api` or `bundled`."""
    model_config = ConfigDict(frozen=True)
    rates: dict[str, Rate]
    source: Literal["api", "bundled"]

    @classmethod
    def bundled(cls) -> PriceTable:
        return cls(rates=dict(BUNDLED), source="bundled")

    @classmethod
    def from_service_classes(cls, classes: Iterable) -> PriceTable:
        """From `client.prices.list()` (ServiceClass models: path, hourly, daily, monthly)."""
        rates = {}
        for sc in classes:
            if sc.path and sc.hourly is not None:
                rates[sc.path] = Rate(hourly=sc.hourly, daily=sc.daily, monthly=sc.monthly)
        return cls(rates=rates, source="api")

    def rate(self, kind: str, service_class: str) -> tuple[Rate, str]:
        """(rate, how it was found) for a resource of `kind` with this ServiceClass path.

        Unknown classes fall back to the walkthrough's rate for the kind, and say so.
        """
        if kind == "note":
            return FREE, "free"
        if service_class in self.rates:
            return self.rates[service_class], self.source
        if service_class in BUNDLED:
            return BUNDLED[service_class], "bundled"
        return BUNDLED_FAMILY.get(kind, FREE), f"assumed ({service_class or 'no service class'} not priced)"
