"""SAKURA Cloud IaaS API 1.1 client (requests + pydantic). Never imports prefect."""

from .client import GLOBAL_ZONE, SakuraClient
from .errors import (BadRequest, Busy, Conflict, Forbidden, Locked, MethodNotAllowed, NoMatch,
                     NotFound, PaymentRequired, ResourceFailed, SakuraAPIError,
                     SakuraConnectionError, SakuraError, ServerError, StillCreating, Unauthorized,
                     WaitTimeout)
from .models import (NFS, Archive, Database, DatabaseStatus, Disk, Interface, Internet, Note, PacketFilter, PacketFilterRule, Registry,
                     RegistryUser, Server, ServiceClass, SSHKey, Switch)
from .disks import DiskEdit
from .config import ApiSettings, CredentialsError, load_settings
from .wait import wait

__all__ = [
    "GLOBAL_ZONE", "NFS", "ApiSettings", "Archive", "BadRequest", "Busy", "Conflict", "CredentialsError",
    "Database", "DatabaseStatus",
    "Disk", "DiskEdit",
    "Forbidden", "Interface", "Internet", "Locked", "MethodNotAllowed", "NoMatch", "Note", "NotFound", "PacketFilter",
    "PacketFilterRule",
    "PaymentRequired", "Registry", "RegistryUser", "ResourceFailed", "SSHKey", "SakuraAPIError",
    "SakuraClient", "SakuraConnectionError", "SakuraError", "Server", "ServerError",
    "ServiceClass", "StillCreating", "Switch", "Unauthorized", "WaitTimeout", "load_settings", "wait",
]
