"""Read models of the API resources (pydantic 2; unknown fields ignored; IDs always `str`).

JSON quirks handled here (as the SDKs' models and tests/unit/fixtures/sakura/ show them): IDs as numbers or strings; `Tags`/`Description` null or
missing; nested objects that arrive as `[]` when empty (`Remark.Network`, `Price`, ...);
`Remark.Servers` as `[[]]` or `[""]`; appliance `Interfaces` with `null` entries; timestamps as
ISO-8601 strings (or empty strings).
"""

from __future__ import annotations

import json
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from .query import normalize_id

__all__ = [
    "Archive", "Database", "DatabaseStatus", "Disk", "DiskPlan", "Instance", "Interface", "Internet", "InternetPlan", "NFS", "Note", "PacketFilter",
    "PacketFilterRule",
    "Ref", "Registry", "RegistryUser", "Server", "ServerPlan", "ServiceClass", "ServicePrice", "SSHKey",
    "Switch",
]


def _id(v: Any) -> Any:
    return None if v is None or v == "" else normalize_id(v)


def _empty_to_none(v: Any) -> Any:
    """Nested objects may arrive as `[]`, `{}`-less `""` or `[{}]` when empty."""
    if v is None or v == "" or v == [] or v == [{}]:
        return None
    return v


def _list(v: Any) -> Any:
    return [] if v is None or v == "" else v


def _str(v: Any) -> Any:
    return "" if v is None else v


def _time(v: Any) -> Any:
    return None if v in (None, "") else v


ID = Annotated[str, BeforeValidator(normalize_id)]
OptID = Annotated[str | None, BeforeValidator(_id)]
Str = Annotated[str, BeforeValidator(_str)]
Tags = Annotated[list[str], BeforeValidator(_list)]
Time = Annotated[datetime | None, BeforeValidator(_time)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def Nested(tp: Any) -> Any:  # noqa: N802 - a type factory
    return Annotated[tp | None, BeforeValidator(_empty_to_none)]


class Ref(Wire):
    """A `{"ID": ...}` reference, sometimes with a name; also the start of every object whose ID may be absent."""
    id: OptID = Field(None, alias="ID")
    name: Str = Field("", alias="Name")


class Subnet(Wire):
    default_route: str | None = Field(None, alias="DefaultRoute")
    network_mask_len: int | None = Field(None, alias="NetworkMaskLen")


class Instance(Wire):
    status: Str = Field("", alias="Status")
    before_status: Str = Field("", alias="BeforeStatus")
    status_changed_at: Time = Field(None, alias="StatusChangedAt")
    host: Nested(Ref) = Field(None, alias="Host")


class InterfaceSwitch(Ref):
    scope: Str = Field("", alias="Scope")
    user_subnet: Nested(Subnet) = Field(None, alias="UserSubnet")


def _port(v: Any) -> Any:
    """A port is a number or a range string (`"32768-61000"`); kept as text, "" when unset."""
    return "" if v is None else str(v)


Port = Annotated[str, BeforeValidator(_port)]


class PacketFilterRule(Wire):
    protocol: Str = Field("", alias="Protocol")
    source_network: Str = Field("", alias="SourceNetwork")
    source_port: Port = Field("", alias="SourcePort")
    destination_port: Port = Field("", alias="DestinationPort")
    action: Str = Field("", alias="Action")
    description: Str = Field("", alias="Description")


class PacketFilter(Ref):
    """A packet filter, as attached to a NIC (`Interface.PacketFilter`) or read from `/packetfilter`."""
    description: Str = Field("", alias="Description")
    expression: Annotated[list[PacketFilterRule], BeforeValidator(_list)] = Field(
        default_factory=list, alias="Expression")


class Interface(Wire):
    id: ID = Field(alias="ID")
    mac_address: Str = Field("", alias="MACAddress")
    ip_address: str | None = Field(None, alias="IPAddress")
    user_ip_address: str | None = Field(None, alias="UserIPAddress")
    host_name: Str = Field("", alias="HostName")
    switch: Nested(InterfaceSwitch) = Field(None, alias="Switch")
    server: Nested(Ref) = Field(None, alias="Server")
    packet_filter: Nested(PacketFilter) = Field(None, alias="PacketFilter")

    @property
    def switch_id(self) -> str | None:
        return self.switch.id if self.switch else None

    @property
    def is_shared(self) -> bool:
        return bool(self.switch and self.switch.scope == "shared")


class ApplianceInterface(Interface):
    """An appliance NIC: the API may omit its ID."""
    id: OptID = Field(None, alias="ID")


class _Named(Wire):
    id: ID = Field(alias="ID")
    name: Str = Field("", alias="Name")
    description: Str = Field("", alias="Description")
    tags: Tags = Field(default_factory=list, alias="Tags")
    created_at: Time = Field(None, alias="CreatedAt")
    service_class: Str = Field("", alias="ServiceClass")


class RouterSubnet(Wire):
    """A router's block of public addresses (`Switch.Subnets[]`, `Internet.Switch.Subnets[]`)."""
    id: OptID = Field(None, alias="ID")
    network_address: str | None = Field(None, alias="NetworkAddress")
    network_mask_len: int | None = Field(None, alias="NetworkMaskLen")
    default_route: str | None = Field(None, alias="DefaultRoute")
    addresses: Nested(dict[str, str]) = Field(None, alias="IPAddresses")   # {"Min": ..., "Max": ...}

    @property
    def network(self) -> IPv4Network | None:
        if not self.network_address or not self.network_mask_len:
            return None
        return IPv4Network(f"{self.network_address}/{self.network_mask_len}")

    @property
    def assignable(self) -> list[str]:
        """Addresses servers may take: the block without its first 4 and its broadcast (SAKURA's rule),
        or `IPAddresses` Min..Max when the answer carries it."""
        net = self.network
        if net is None:
            return []
        lo, hi = net.network_address + 4, net.broadcast_address - 1
        if self.addresses and self.addresses.get("Min") and self.addresses.get("Max"):
            lo, hi = IPv4Address(self.addresses["Min"]), IPv4Address(self.addresses["Max"])
        return [str(IPv4Address(a)) for a in range(int(lo), int(hi) + 1)]


class Switch(_Named):
    scope: Str = Field("", alias="Scope")
    server_count: int = Field(0, alias="ServerCount")
    user_subnet: Nested(Subnet) = Field(None, alias="UserSubnet")
    subnets: Annotated[list[RouterSubnet], BeforeValidator(_list)] = Field(default_factory=list, alias="Subnets")
    internet: Nested(Ref) = Field(None, alias="Internet")


class InternetSwitch(Wire):
    id: OptID = Field(None, alias="ID")
    name: Str = Field("", alias="Name")
    subnets: Annotated[list[RouterSubnet], BeforeValidator(_list)] = Field(default_factory=list, alias="Subnets")


class Internet(_Named):
    """A router+switch (`/internet`): a bandwidth, a block of public addresses and its switch."""
    band_width_mbps: int | None = Field(None, alias="BandWidthMbps")
    network_mask_len: int | None = Field(None, alias="NetworkMaskLen")
    switch: Nested(InternetSwitch) = Field(None, alias="Switch")

    @property
    def switch_id(self) -> str | None:
        return self.switch.id if self.switch else None

    @property
    def subnet(self) -> RouterSubnet | None:
        return self.switch.subnets[0] if self.switch and self.switch.subnets else None


class ServerPlan(Ref):
    cpu: int | None = Field(None, alias="CPU")
    memory_mb: int | None = Field(None, alias="MemoryMB")
    commitment: Str = Field("", alias="Commitment")
    generation: int | None = Field(None, alias="Generation")
    service_class: Str = Field("", alias="ServiceClass")


class DiskPlanSize(Wire):
    size_mb: int | None = Field(None, alias="SizeMB")
    display_size: int | None = Field(None, alias="DisplaySize")
    availability: Str = Field("", alias="Availability")
    service_class: Str = Field("", alias="ServiceClass")


class DiskPlan(Ref):
    """`/product/disk`: a storage class with its offered sizes."""
    availability: Str = Field("", alias="Availability")
    size: Annotated[list[DiskPlanSize], BeforeValidator(_list)] = Field(default_factory=list, alias="Size")


class InternetPlan(Ref):
    """`/product/internet`: a router+switch bandwidth."""
    band_width_mbps: int | None = Field(None, alias="BandWidthMbps")
    availability: Str = Field("", alias="Availability")
    service_class: Str = Field("", alias="ServiceClass")


class Disk(_Named):
    availability: Str = Field("", alias="Availability")
    size_mb: int | None = Field(None, alias="SizeMB")
    migrated_mb: int | None = Field(None, alias="MigratedMB")
    connection: Str = Field("", alias="Connection")
    connection_order: int | None = Field(None, alias="ConnectionOrder")
    plan: Nested(Ref) = Field(None, alias="Plan")
    server: Nested(Ref) = Field(None, alias="Server")
    source_archive: Nested(Ref) = Field(None, alias="SourceArchive")
    source_disk: Nested(Ref) = Field(None, alias="SourceDisk")
    job_status: dict[str, Any] | None = Field(None, alias="JobStatus")

    @field_validator("job_status", mode="before")
    @classmethod
    def _job(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else None

    @property
    def size_gb(self) -> int | None:
        return None if self.size_mb is None else self.size_mb // 1024

    @property
    def copy_progress(self) -> float | None:
        """MigratedMB / SizeMB while copying (None when either is unknown)."""
        if not self.size_mb or self.migrated_mb is None:
            return None
        return min(1.0, self.migrated_mb / self.size_mb)

    @property
    def server_id(self) -> str | None:
        return self.server.id if self.server else None


class Server(_Named):
    host_name: Str = Field("", alias="HostName")
    availability: Str = Field("", alias="Availability")
    instance: Nested(Instance) = Field(None, alias="Instance")
    server_plan: Nested(ServerPlan) = Field(None, alias="ServerPlan")
    interfaces: Annotated[list[Interface], BeforeValidator(_list)] = Field(default_factory=list,
                                                                          alias="Interfaces")
    disks: Annotated[list[Disk], BeforeValidator(_list)] = Field(default_factory=list, alias="Disks")
    interface_driver: Str = Field("", alias="InterfaceDriver")

    @property
    def status(self) -> str:
        """`Instance.Status`: `up`, `down`, `cleaning`, or "" when unknown."""
        return self.instance.status if self.instance else ""

    @property
    def cpu(self) -> int | None:
        return self.server_plan.cpu if self.server_plan else None

    @property
    def memory_gb(self) -> int | None:
        mb = self.server_plan.memory_mb if self.server_plan else None
        return None if mb is None else mb // 1024

    @property
    def shared_ip(self) -> str | None:
        """The global IP of the NIC on the shared segment, if any."""
        for nic in self.interfaces:
            if nic.is_shared and nic.ip_address:
                return nic.ip_address
        return None


class Archive(_Named):
    scope: Str = Field("", alias="Scope")
    availability: Str = Field("", alias="Availability")
    size_mb: int | None = Field(None, alias="SizeMB")
    display_order: int | None = Field(None, alias="DisplayOrder")
    plan: Nested(Ref) = Field(None, alias="Plan")

    @property
    def size_gb(self) -> int | None:
        return None if self.size_mb is None else self.size_mb // 1024


class Note(_Named):
    scope: Str = Field("", alias="Scope")
    klass: Str = Field("", alias="Class")
    content: Str = Field("", alias="Content")
    availability: Str = Field("", alias="Availability")


class SSHKey(_Named):
    public_key: Str = Field("", alias="PublicKey")
    fingerprint: Str = Field("", alias="Fingerprint")


class NFSServerIP(Wire):
    ip_address: str | None = Field(None, alias="IPAddress")


def _remark_servers(v: Any) -> Any:
    """`Remark.Servers` may be `[[]]`, `[""]` or `[{}]` when empty: keep only real entries."""
    return [x for x in _list(v) if isinstance(x, dict) and x]


class NFSRemark(Wire):
    switch: Nested(Ref) = Field(None, alias="Switch")
    network: Nested(Subnet) = Field(None, alias="Network")
    servers: Annotated[list[NFSServerIP], BeforeValidator(_remark_servers)] = Field(
        default_factory=list, alias="Servers")
    plan: Nested(Ref) = Field(None, alias="Plan")


class Appliance(_Named):
    """What NFS and database appliances share: plan, instance, NICs, and `Remark` (switch, address)."""
    klass: Str = Field("", alias="Class")
    availability: Str = Field("", alias="Availability")
    instance: Nested(Instance) = Field(None, alias="Instance")
    interfaces: Annotated[list[ApplianceInterface | None], BeforeValidator(_list)] = Field(
        default_factory=list, alias="Interfaces")
    plan: Nested(Ref) = Field(None, alias="Plan")
    remark: Nested(NFSRemark) = Field(None, alias="Remark")
    service_class: Str = Field("", alias="ServiceClass")

    @property
    def status(self) -> str:
        return self.instance.status if self.instance else ""

    @property
    def ip(self) -> str | None:
        """The appliance's address on its switch."""
        if self.remark and self.remark.servers and self.remark.servers[0].ip_address:
            return self.remark.servers[0].ip_address
        for nic in self.interfaces:
            if nic and (nic.user_ip_address or nic.ip_address):
                return nic.user_ip_address or nic.ip_address
        return None

    @property
    def switch_id(self) -> str | None:
        return self.remark.switch.id if self.remark and self.remark.switch else None


class NFS(Appliance):
    """An NFS appliance (`Class: nfs`); export `<ip>:/export`."""


def _source_networks(v: Any) -> Any:
    """`SourceNetwork` is `""`, `null`, a list, or `["0.0.0.0/0"]`: all but a real list of ranges mean any
    source, read as `[]` (as SAKURA's SDK reads them)."""
    if not isinstance(v, list):
        return []
    nets = [str(x) for x in v if x not in (None, "")]
    return [] if nets == ["0.0.0.0/0"] else nets


def _secret(v: Any) -> Any:
    return "" if v is None else str(v)


def _opt_int(v: Any) -> Any:
    """A number that may come as a string (`ServicePort: "5432"`) or be empty."""
    if v in (None, "", [], {}):
        return None
    return int(v)


OptInt = Annotated[int | None, BeforeValidator(_opt_int)]
Secret = Annotated[SecretStr, BeforeValidator(_secret)]


class DBSettingsCommon(Wire):
    """`Settings.DBConf.Common`: what the database answers on and to whom. Passwords stay `SecretStr`."""
    service_port: OptInt = Field(None, alias="ServicePort")
    source_network: Annotated[list[str], BeforeValidator(_source_networks)] = Field(
        default_factory=list, alias="SourceNetwork")
    default_user: Str = Field("", alias="DefaultUser")
    user_password: Secret = Field(SecretStr(""), alias="UserPassword")
    web_ui: Any = Field(None, alias="WebUI")


class DBBackup(Wire):
    rotate: OptInt = Field(None, alias="Rotate")
    time: Str = Field("", alias="Time")
    day_of_week: Annotated[list[str], BeforeValidator(_list)] = Field(default_factory=list, alias="DayOfWeek")


class DBConfSettings(Wire):
    common: Nested(DBSettingsCommon) = Field(None, alias="Common")
    backup: Nested(DBBackup) = Field(None, alias="Backup")


class DBSettings(Wire):
    db_conf: Nested(DBConfSettings) = Field(None, alias="DBConf")


class DBRemarkCommon(Wire):
    """`Remark.DBConf.Common`: the engine, fixed at create."""
    database_name: Str = Field("", alias="DatabaseName")
    database_version: Str = Field("", alias="DatabaseVersion")
    database_revision: Str = Field("", alias="DatabaseRevision")
    database_title: Str = Field("", alias="DatabaseTitle")


class DBRemarkConf(Wire):
    common: Nested(DBRemarkCommon) = Field(None, alias="Common")


class DatabaseRemark(NFSRemark):
    db_conf: Nested(DBRemarkConf) = Field(None, alias="DBConf")


class Database(Appliance):
    """A database appliance (`Class: database`). `Remark` is fixed at create; `Settings` can change."""
    remark: Nested(DatabaseRemark) = Field(None, alias="Remark")
    settings: Nested(DBSettings) = Field(None, alias="Settings")
    settings_hash: Str = Field("", alias="SettingsHash")

    @property
    def common(self) -> DBSettingsCommon:
        s = self.settings
        return (s.db_conf.common if s and s.db_conf and s.db_conf.common else None) or DBSettingsCommon()

    @property
    def port(self) -> int | None:
        return self.common.service_port

    @property
    def source_networks(self) -> list[str]:
        """Ranges allowed to connect; `[]` means any."""
        return self.common.source_network

    @property
    def default_user(self) -> str:
        return self.common.default_user

    @property
    def engine(self) -> DBRemarkCommon:
        r = self.remark
        return (r.db_conf.common if r and r.db_conf and r.db_conf.common else None) or DBRemarkCommon()

    @property
    def network(self) -> Subnet | None:
        return self.remark.network if self.remark else None


class DBStatusVersion(Wire):
    tag: Str = Field("", alias="tag")
    status: Str = Field("", alias="status")
    commit_hash: Str = Field("", alias="commithash")


class DBEngineStatus(Wire):
    status: Str = Field("", alias="status")


class DBBackupHistory(Wire):
    created_at: Time = Field(None, alias="createdat")
    availability: Str = Field("", alias="availability")
    size: OptInt = Field(None, alias="size")


class DBBackupInfo(Wire):
    history: Annotated[list[DBBackupHistory], BeforeValidator(_list)] = Field(default_factory=list,
                                                                             alias="history")


class DBStatusConf(Wire):
    version: Nested(DBStatusVersion) = Field(None, alias="version")
    mariadb: Nested(DBEngineStatus) = Field(None, alias="MariaDB")
    postgres: Nested(DBEngineStatus) = Field(None, alias="postgres")
    backup: Nested(DBBackupInfo) = Field(None, alias="backup")


class DatabaseStatus(Wire):
    """`GET /appliance/{id}/status` → `Appliance.SettingsResponse`: the appliance and its engine."""
    status: Str = Field("", alias="Status")
    is_fatal: bool = Field(False, alias="is_fatal")
    db_conf: Nested(DBStatusConf) = Field(None, alias="DBConf")

    @property
    def engine_status(self) -> str:
        """The engine's own state (`running`, ...): PostgreSQL's, else MariaDB's; "" when not reported."""
        conf = self.db_conf
        for engine in (conf.postgres, conf.mariadb) if conf else ():
            if engine and engine.status:
                return engine.status
        return ""

    @property
    def backups(self) -> list[DBBackupHistory]:
        return self.db_conf.backup.history if self.db_conf and self.db_conf.backup else []


class RegistryStatus(Wire):
    registry_name: Str = Field("", alias="registry_name")
    hostname: Str = Field("", alias="hostname")


class Registry(_Named):
    availability: Str = Field("", alias="Availability")
    provider: dict[str, Any] | None = Field(None, alias="Provider")
    registry_status: Nested(RegistryStatus) = Field(None, alias="Status")
    settings: dict[str, Any] | None = Field(None, alias="Settings")
    settings_hash: Str = Field("", alias="SettingsHash")

    @field_validator("provider", "settings", mode="before")
    @classmethod
    def _dict(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else None

    @property
    def registry_name(self) -> str:
        return self.registry_status.registry_name if self.registry_status else ""

    @property
    def fqdn(self) -> str:
        """`Status.hostname`, e.g. `<registry_name>.sakuracr.jp`."""
        return self.registry_status.hostname if self.registry_status else ""

    @property
    def provider_class(self) -> str:
        return str((self.provider or {}).get("Class") or "")


class RegistryUser(Wire):
    username: str = Field(alias="username")
    permission: Str = Field("", alias="permission")


def _num(v: Any) -> Any:
    if v in (None, ""):
        return None
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return v


Num = Annotated[float | None, BeforeValidator(_num)]


class ServicePrice(Wire):
    base: Num = Field(None, alias="Base")
    hourly: Num = Field(None, alias="Hourly")
    daily: Num = Field(None, alias="Daily")
    monthly: Num = Field(None, alias="Monthly")
    zone: Str = Field("", alias="Zone")


class ServiceClass(Wire):
    id: OptID = Field(None, alias="ServiceClassID")
    name: Str = Field("", alias="ServiceClassName")
    path: Str = Field("", alias="ServiceClassPath")
    display_name: Str = Field("", alias="DisplayName")
    is_public: bool | None = Field(None, alias="IsPublic")
    price: Nested(ServicePrice) = Field(None, alias="Price")

    @property
    def hourly(self) -> float | None:
        return self.price.hourly if self.price else None

    @property
    def daily(self) -> float | None:
        return self.price.daily if self.price else None

    @property
    def monthly(self) -> float | None:
        return self.price.monthly if self.price else None


def parse_nfs_plans(content: str) -> dict[str, list[dict[str, Any]]]:
    """The `plans` object of the `sys-nfs` note's JSON content."""
    doc = json.loads(content) if content else {}
    plans = doc.get("plans") if isinstance(doc, dict) else None
    return plans if isinstance(plans, dict) else {}
