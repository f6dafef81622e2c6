"""SAKURA Cloud API credentials as a Prefect Block."""

from __future__ import annotations

import os

from prefect.blocks.core import Block
from pydantic import Field, PrivateAttr, SecretStr

from swarmlab.sakura import SakuraClient

REAL_API_ROOT = "https://secure.sakura.ad.jp/cloud/zone"
DEFAULT_ZONE = "is1a"
ZONE_RULE = "--zone (the spec's zone) > the credentials block's zone > SAKURACLOUD_ZONE > is1a"


class SakuraCloudCredentials(Block):
    """Access token and secret for the SAKURA Cloud IaaS API (or the swarmlab emulator)."""

    _block_type_name = "SAKURA Cloud Credentials"  # slug and description: Prefect's, from it and the docstring

    access_token: str = Field(description="API access token (Basic auth user)")
    access_token_secret: SecretStr = Field(description="API access token secret (Basic auth password)")
    zone: str = Field(DEFAULT_ZONE, description="zone used when the lab spec names none, e.g. is1a, tk1b")
    api_root: str = Field(REAL_API_ROOT, description="API root up to /cloud/zone; the emulator's is "
                                                     "http://127.0.0.1:PORT/cloud/zone")
    rate_per_s: float = Field(10.0, gt=0, le=100, description="request pacing; SAKURA Cloud allows about 10/s")
    _zone_source: str = PrivateAttr("this block")
    retry_max: int = Field(8, ge=0, le=20, description="retries of one API call on busy/connection errors "
                                                       "(backoff 0.5 s doubling, capped at 30 s)")

    def client(self, zone: str | None = None) -> SakuraClient:
        return SakuraClient(self.access_token, self.access_token_secret, zone or self.zone, api_root=self.api_root,
                            rate_per_s=self.rate_per_s, max_retries=self.retry_max)

    @classmethod
    def from_env(cls) -> "SakuraCloudCredentials":
        """From SAKURACLOUD_ACCESS_TOKEN / _SECRET (the SDKs' names), SAKURACLOUD_ZONE, SAKURACLOUD_API_ROOT,
        SAKURACLOUD_RATE_LIMIT, SAKURACLOUD_RETRY_MAX (the Terraform provider's name)."""
        missing = [v for v in ("SAKURACLOUD_ACCESS_TOKEN", "SAKURACLOUD_ACCESS_TOKEN_SECRET") if not os.environ.get(v)]
        if missing:
            raise ValueError(f"credentials: no block name given and {', '.join(missing)} not set; "
                             f"pass credentials=<block name> or set the environment variables")
        zone = os.environ.get("SAKURACLOUD_ZONE")
        creds = cls(access_token=os.environ["SAKURACLOUD_ACCESS_TOKEN"],
                    access_token_secret=SecretStr(os.environ["SAKURACLOUD_ACCESS_TOKEN_SECRET"]),
                    zone=zone or DEFAULT_ZONE,
                    api_root=os.environ.get("SAKURACLOUD_API_ROOT", REAL_API_ROOT),
                    rate_per_s=float(os.environ.get("SAKURACLOUD_RATE_LIMIT", 10)),
                    retry_max=int(os.environ.get("SAKURACLOUD_RETRY_MAX", 8)))
        creds._zone_source = "SAKURACLOUD_ZONE" if zone else "the default"
        return creds

    @classmethod
    def resolve(cls, name: str | None) -> "SakuraCloudCredentials":
        """The named block, or the environment when no name is given."""
        if not name:
            return cls.from_env()
        creds = cls.load(name)
        creds._zone_source = f"credentials block {name!r}"
        return creds

    def pick_zone(self, asked: str | None) -> tuple[str, str]:
        """The zone to work in and where it came from, by ZONE_RULE."""
        if asked:
            return asked, "--zone / the lab spec"
        return self.zone, self._zone_source
