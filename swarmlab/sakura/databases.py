"""Database appliances (`/appliance`, `Class: database`): SAKURA's managed PostgreSQL (or MariaDB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from .base import PowerMixin, Resource
from .errors import NoMatch, ResourceFailed, WaitTimeout
from .models import Database, DatabaseStatus
from .nfs import _plan_id_value
from .query import normalize_id
from .wait import Poll

# The SDKs' plan lookup (iaas-api-go `types.DatabasePlanIDMap`): a fixed name -> ID map, the ID being the size in GB.
DATABASE_PLANS: dict[str, int] = {"10g": 10, "30g": 30, "90g": 90, "240g": 240, "500g": 500, "1t": 1000}
POSTGRES = "postgres"   # `Remark.DBConf.Common.DatabaseName` of PostgreSQL (iaas-api-go RDBMSTypesPostgreSQL)
ANY_SOURCE = "0.0.0.0/0"  # what the SDKs send for "no source restriction"


def database_plan_id(plan: str | int) -> str:
    """The `Plan.ID` of a plan name (`10g` ... `1t`, as usacloud and Terraform take it) or a size in GB."""
    key = str(plan).strip().lower()
    if key.isdigit():
        key = "1t" if key == "1000" else f"{key}g"
    if key not in DATABASE_PLANS:
        raise NoMatch(f"database plan {plan!r}", f"plans are {', '.join(DATABASE_PLANS)} (or their sizes in GB)")
    return str(DATABASE_PLANS[key])


def database_plan_gb(plan_id: str | int | None) -> int | None:
    """The size in GB of a database `Plan.ID`, None if it is not one of the plans."""
    try:
        value = int(normalize_id(plan_id or ""))
    except ValueError:
        return None
    return value if value in DATABASE_PLANS.values() else None


def settings_body(port: int, source_networks: Sequence[str], user: str, password: SecretStr,
                  backup: dict[str, Any] | None = None) -> dict[str, Any]:
    """`Settings` of a create or settings update (`[]` sources = any, sent as `["0.0.0.0/0"]`)."""
    common = {"ServicePort": int(port), "SourceNetwork": list(source_networks) or [ANY_SOURCE],
              "DefaultUser": user, "UserPassword": password.get_secret_value()}
    conf: dict[str, Any] = {"Common": common}
    if backup:
        conf["Backup"] = dict(backup)
    return {"DBConf": conf}


class Databases(PowerMixin, Resource[Database]):
    path, singular, plural, model, kind = "appliance", "Appliance", "Appliances", Database, "database"
    base_filter = {"Class": ["database"]}
    _not_found_grace = 5  # appliances may 404 right after create

    def _keep(self, m: Database) -> bool:
        return m.klass == "database"

    def create(self, name: str, tags: list[str], switch_id: str, ip: str, mask_len: int,
               default_route: str | None, plan_id: str, *, user: str, password: SecretStr,
               port: int = 5432, source_networks: Sequence[str] = (), database: str = POSTGRES,
               version: str = "", backup: dict[str, Any] | None = None, description: str = "") -> Database:
        """Create it on `switch_id` at `ip`. It boots by itself (minutes on the real cloud): `wait_ready`."""
        plan = {"ID": _plan_id_value(plan_id)}
        network: dict[str, Any] = {"NetworkMaskLen": mask_len}
        if default_route:
            network["DefaultRoute"] = default_route
        engine = {"DatabaseName": database, "DefaultUser": user, "UserPassword": password.get_secret_value()}
        if version:
            engine["DatabaseVersion"] = version
        body = {"Appliance": {
            "Class": "database", "Name": name, "Description": description, "Tags": list(tags), "Plan": plan,
            "Remark": {"Switch": {"ID": str(switch_id)}, "Network": network, "Servers": [{"IPAddress": ip}],
                       "Plan": plan, "DBConf": {"Common": engine}},
            "Settings": settings_body(port, source_networks, user, password, backup),
        }}
        return self._one(self._call("POST", self.path, body=body))

    def status(self, id: str) -> DatabaseStatus:
        """`GET /appliance/{id}/status`: the appliance's and its engine's state."""
        doc = self._call("GET", f"{self.path}/{id}/status")
        block = doc.get("Appliance") if isinstance(doc.get("Appliance"), dict) else {}
        return DatabaseStatus.model_validate(block.get("SettingsResponse") or {})

    def wait_ready(self, id: str, timeout_s: float = 3600.0) -> Database:
        """Up (`wait_up`), then its status endpoint reports `up` and not fatal: it accepts connections."""
        poll = self._client.poll_interval_s
        db = self.wait_up(id, timeout_s)
        for attempt in Poll(f"{self._what(db)} to accept connections", timeout_s, interval_s=poll):
            st = self.status(id)
            attempt.note(f"status={st.status or '?'} engine={st.engine_status or '?'}")
            if st.is_fatal:
                raise ResourceFailed(self._what(db), f"status endpoint is_fatal, engine {st.engine_status!r}")
            if st.status == "up":
                return self.get(id)
        raise WaitTimeout(self._what(db), "accepting connections", attempt.last, timeout_s)

    def update_settings(self, id: str, *, port: int | None = None, source_networks: Sequence[str] | None = None,
                        password: SecretStr | None = None, backup: dict[str, Any] | None = None) -> Database:
        """Change the settings (`PUT /appliance/{id}` with `SettingsHash`, then `PUT .../config` to apply
        them, as the SDKs do); unset arguments keep their current value."""
        db = self.get(id)
        c = db.common
        settings = settings_body(port if port is not None else (c.service_port or 5432),
                                 c.source_network if source_networks is None else source_networks,
                                 c.default_user, password or c.user_password, backup)
        body = {"Appliance": {"Settings": settings, "SettingsHash": db.settings_hash}}
        self._call("PUT", f"{self.path}/{id}", body=body)
        self._call("PUT", f"{self.path}/{id}/config")
        return self.get(id)

    def delete(self, id: str, *, stop_first: bool = False, timeout_s: float = 600.0) -> bool:
        """Delete; with `stop_first`, force it off and wait until down first. False if already gone."""
        if stop_first and not self.stop(id, timeout_s):
            return False
        return super().delete(id)
