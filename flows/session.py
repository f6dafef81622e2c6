"""How every flow opens a lab: `LabSession` — credentials (zone by one rule, said in the run's first log
line), the API client, the inventory, the fleet and the derived secrets, closed in one place; its API side
alone, `CloudSession`, for the flows that know a lab by name only (teardown, the cost guard)."""

from __future__ import annotations

from typing import Self

from pydantic import SecretStr

from blocks.sakura import ZONE_RULE, SakuraCloudCredentials
from blocks.ssh import SSHKeyPair
from flows.ratelimit import limit_name, sakura_pace
from swarmlab.cloud.fleet import Fleet
from swarmlab.cloud.inventory import Inventory
from swarmlab.cloud.secrets import derive
from swarmlab.hosts import SSHKey
from swarmlab.sakura import SakuraClient
from swarmlab.spec import LabSpec


def pick_zone(creds: SakuraCloudCredentials, asked: str | None, lab: str, log) -> str:
    """The zone by ZONE_RULE; logs which one and why."""
    zone, source = creds.pick_zone(asked)
    log.info("lab %s in zone %s (from %s; rule: %s)", lab, zone, source, ZONE_RULE)
    return zone


def api_client(creds: SakuraCloudCredentials, zone: str) -> SakuraClient:
    """The API client of a flow run: the credentials' own pacing, plus a slot of the API's Prefect rate limit
    (`sakura-api` for SAKURA Cloud) per request when a Prefect server is configured (`flows.ratelimit`; created
    if missing at the credentials' `rate_per_s`)."""
    return creds.client(zone, pace=sakura_pace(limit_name(creds.api_root), per_second=creds.rate_per_s))


def open_lab(spec: LabSpec, credentials: str | None, log) -> tuple[SakuraCloudCredentials, LabSpec]:
    """The credentials (block name, or SAKURACLOUD_* env) and the spec with its zone settled."""
    creds = SakuraCloudCredentials.resolve(credentials)
    return creds, spec.model_copy(update={"zone": pick_zone(creds, spec.zone, spec.name, log)})


def open_fleet(inventory: Inventory, spec: LabSpec, ssh_key: str | None) -> Fleet:
    """SSH sessions to `inventory`'s servers with the lab's key (an `SSHKeyPair` block, or the lab's key file)."""
    key = SSHKeyPair.resolve(ssh_key, spec.name)
    return Fleet(inventory, SSHKey.from_pem(key.private_key), user=spec.ssh_user)


class CloudSession:
    """The API side of a lab in one zone: the credentials, and the client made on first use and closed when
    the `with` block ends. Teardown and the cost guard, which know a lab by name only, open just this."""

    def __init__(self, creds: SakuraCloudCredentials, zone: str):
        self.creds, self.zone = creds, zone
        self._client: SakuraClient | None = None

    @classmethod
    def open(cls, lab: str, zone: str | None, credentials: str | None, log) -> CloudSession:
        """Lab `lab`'s session: the credentials (block name, or SAKURACLOUD_* env), the zone by ZONE_RULE (logged)."""
        creds = SakuraCloudCredentials.resolve(credentials)
        return cls(creds, pick_zone(creds, zone, lab, log))

    @classmethod
    def per_zone(cls, zones: list[str] | None, credentials: str | None) -> list[CloudSession]:
        """A session for each of `zones`; none named: the one zone of ZONE_RULE without a spec (the block's,
        SAKURACLOUD_ZONE, is1a)."""
        creds = SakuraCloudCredentials.resolve(credentials)
        return [cls(creds, z) for z in zones or [creds.pick_zone(None)[0]]]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> SakuraClient:
        if self._client is None:
            self._client = api_client(self.creds, self.zone)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class LabSession(CloudSession):
    """One lab as a flow run sees it. `with LabSession(spec, credentials, log, ssh_key) as lab:` settles the
    zone; the client and the fleet are made on first use and closed when the block ends."""

    def __init__(self, spec: LabSpec, credentials: str | None, log, ssh_key: str | None = None):
        creds, self.spec = open_lab(spec, credentials, log)
        super().__init__(creds, self.spec.zone)
        self.ssh_key = ssh_key
        self._fleet: Fleet | None = None

    def secret(self, purpose: str) -> SecretStr:
        """The lab's secret for `purpose` (`registry`, `db`, ...), derived from the API secret."""
        return derive(self.creds.access_token_secret, self.spec.name, purpose)

    def key_pair(self) -> SSHKeyPair:
        return SSHKeyPair.resolve(self.ssh_key, self.spec.name)

    def fleet(self, inventory: Inventory) -> Fleet:
        """SSH sessions to `inventory`'s servers (one fleet per session, closed with it)."""
        if self._fleet is None:
            self._fleet = open_fleet(inventory, self.spec, self.ssh_key)
        return self._fleet

    def close(self) -> None:
        if self._fleet is not None:
            self._fleet.close()
        super().close()
