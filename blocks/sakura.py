"""SAKURA Cloud API credentials as a Prefect Block."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field, PrivateAttr, SecretStr

from swarmlab.sakura import SakuraClient, load_settings

REAL_API_ROOT = "https://secure.sakura.ad.jp/cloud/zone"
DEFAULT_ZONE = "is1a"
ZONE_RULE = ("--zone (the spec's zone) > the credentials block's zone > SAKURACLOUD_ZONE > the usacloud "
             "profile's Zone > is1a")


class SakuraCloudCredentials(Block):
    """An API key of SAKURA Cloud (or of the local emulator) and where to reach the API."""

    _block_type_name = "SAKURA Cloud Credentials"
    _block_type_slug = "sakura-cloud-credentials"
    _description = ("An API key (access token and secret) of the SAKURA Cloud IaaS API, or of the swarmlab emulator, "
                    "with the zone, API root, request rate and retries to use. Every swarmlab deployment reads the "
                    "block named `swarmlab`; without a block the flows read SAKURACLOUD_* variables and the "
                    "usacloud profile. Create a key in the control panel (API keys), access level: create/delete.")
    _logo_url = "https://github.com/sacloud.png"  # the sacloud organisation's (SAKURA's own tools) avatar
    _documentation_url = "https://manual.sakura.ad.jp/cloud-api/1.1/"

    access_token: str = Field(description="API access token (Basic auth user)")
    access_token_secret: SecretStr = Field(description="API access token secret (Basic auth password)")
    zone: str = Field(DEFAULT_ZONE, description="zone used when the lab spec names none, e.g. is1a, tk1b")
    api_root: str = Field(REAL_API_ROOT, description="API root up to /cloud/zone; the emulator's is "
                                                     "http://127.0.0.1:PORT/cloud/zone")
    rate_per_s: float = Field(10.0, gt=0, le=100, description="request pacing; SAKURA Cloud allows about 10/s")
    _zone_source: str = PrivateAttr("this block")
    retry_max: int = Field(8, ge=0, le=20, description="retries of one API call on busy/connection errors "
                                                       "(backoff 0.5 s doubling, capped at 30 s)")

    def client(self, zone: str | None = None, pace: Callable[[], object] | None = None) -> SakuraClient:
        """A client for `zone` (default: this block's); `pace` is called before every request (shared limits)."""
        return SakuraClient(self.access_token, self.access_token_secret, zone or self.zone, api_root=self.api_root,
                            rate_per_s=self.rate_per_s, max_retries=self.retry_max, pace=pace)

    @classmethod
    def from_env(cls) -> "SakuraCloudCredentials":
        """As SAKURA's own tools read them: SAKURACLOUD_ACCESS_TOKEN / _SECRET, SAKURACLOUD_ZONE,
        SAKURACLOUD_API_ROOT_URL, SAKURACLOUD_RATE_LIMIT, SAKURACLOUD_RETRY_MAX over the usacloud profile
        (SAKURACLOUD_PROFILE, else ~/.usacloud/current, else `default`); `swarmlab.sakura.config`."""
        s = load_settings(os.environ, Path.home())
        creds = cls(access_token=s.access_token, access_token_secret=s.access_token_secret,
                    zone=s.zone or DEFAULT_ZONE, api_root=s.api_root or REAL_API_ROOT,
                    rate_per_s=s.rate_per_s or 10.0, retry_max=8 if s.retry_max is None else s.retry_max)
        creds._zone_source = s.sources.get("zone", "the default")
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
