"""The Docker Hub stand-in: container `<instance>-hub` (kind `hub`) of lab/registry:2.8 on the shared network
with the aliases registry-1.docker.io, index.docker.io, docker.io, auth.docker.io; TLS (CA-signed, those
SANs), no auth, data in volume `<instance>-hub`, config under state_dir/hub. VMs' `docker pull debian:bookworm`
/ `FROM debian:bookworm` get lab/base:bookworm, pushed as library/debian:bookworm when the container's
`sakura-emulator.hub-seed` label is not the current lab/base image ID. Only purge() removes it."""

from __future__ import annotations

import logging
import time
import urllib.request
from pathlib import Path

from docker.errors import NotFound

from ..poll import poll_until
from .common import READY_TIMEOUT, DockerBackendError, Scope, container_exits, write_file
from .networks import Networks
from .registry import create_registry_container, registry_mounts
from .tls import CertificateAuthority

log = logging.getLogger(__name__)

HUB_RESOURCE = "hub"
L_HUB_SEED = "sakura-emulator.hub-seed"     # on the hub container: the lab/base image ID it serves as debian
HUB_NAMES = ("registry-1.docker.io", "index.docker.io", "docker.io", "auth.docker.io")
HUB_REPO, HUB_TAG = "library/debian", "bookworm"
_HUB_STORAGE = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
"""
# the hub itself: TLS, anonymous pull and push (what dockerd expects of Docker Hub's /v2/: 200 without auth)
HUB_CONFIG = _HUB_STORAGE + """http:
  addr: :443
  tls:
    certificate: /etc/lab-registry/registry.crt
    key: /etc/lab-registry/registry.key
"""
# the temporary seeding registry on the same volume: plain HTTP on 127.0.0.1 (insecure by default for dockerd)
HUB_SEED_CONFIG = _HUB_STORAGE + """http:
  addr: :5000
"""


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Hub:
    def __init__(self, scope: Scope, networks: Networks, ca: CertificateAuthority, *,
                 registry_image: str, base_image: str) -> None:
        self.scope = scope
        self.networks = networks
        self.ca = ca
        self.registry_image = registry_image
        self.base_image = base_image
        self.dir = scope.state_dir / "hub"
        self.container_name = f"{scope.instance}-hub"

    def address(self) -> str | None:
        """The stand-in's IP on the shared network (VMs reach it as registry-1.docker.io etc.)."""
        return self.scope.address_on(self.networks.shared_name, self.scope.container(HUB_RESOURCE, "hub"))

    def ensure(self) -> None:
        """Run the stand-in, seeded with library/debian:bookworm = lab/base:bookworm.
        Warm (container labelled with the current lab/base ID, config unchanged): a few inspects, no writes."""
        with self.scope.lock(HUB_RESOURCE):
            d = self.dir
            changed = self.ca.issue(HUB_NAMES, d)
            changed |= write_file(d / "config.yml", HUB_CONFIG)
            write_file(d / "seed.yml", HUB_SEED_CONFIG)
            try:
                base_id = self.scope.client.images.get(self.base_image).id
            except NotFound:
                raise DockerBackendError(f"image {self.base_image} is missing (the Docker Hub stand-in serves it "
                                         f"as debian:bookworm); build it with `python -m emulator.images`") from None
            c = self.scope.container(HUB_RESOURCE, "hub")
            if c is not None and c.labels.get(L_HUB_SEED) == base_id and not changed:
                if c.status != "running":
                    c.start()
                    self.scope.wait_running(c)
                    self.scope.wait_tcp(self.address, 443, "the Docker Hub stand-in")
                return
            t0 = time.monotonic()
            if c is not None:
                self.scope.remove_container(c)
            volume = f"{self.scope.instance}-hub"
            self.scope.ensure_volume(volume, HUB_RESOURCE, "hub", [])
            self._seed(volume, d)
            c = create_registry_container(
                self.scope, self.networks, self.registry_image, name=self.container_name, hostname="hub",
                volume=volume, config_dir=d, aliases=list(HUB_NAMES),
                labels={**self.scope.labels(HUB_RESOURCE, "hub"), L_HUB_SEED: base_id},
                error="cannot create the Docker Hub stand-in",
                command=["/usr/bin/docker-registry", "serve", "/etc/lab-registry/config.yml"])
            c.start()
            self.scope.wait_running(c)
            self.scope.wait_tcp(self.address, 443, "the Docker Hub stand-in")
            log.info("Docker Hub stand-in %s seeded with %s as debian:%s in %.1f s",
                     c.name, self.base_image, HUB_TAG, time.monotonic() - t0)

    def _seed(self, volume: str, d: Path) -> None:
        """Push lab/base as library/debian:bookworm into the hub volume through a temporary plain-HTTP registry
        published on 127.0.0.1 (the host dockerd treats 127.0.0.0/8 registries as insecure: no daemon config)."""
        client = self.scope.client
        for old in client.containers.list(all=True, filters=self.scope.filters(HUB_RESOURCE, "hub-seed")):
            self.scope.remove_container(old)
        api = client.api
        hc = api.create_host_config(mounts=registry_mounts(volume, d), port_bindings={5000: ("127.0.0.1", None)})
        cid = api.create_container(self.registry_image, name=f"{self.scope.instance}-hub-seed", ports=[5000],
                                   command=["/usr/bin/docker-registry", "serve", "/etc/lab-registry/seed.yml"],
                                   host_config=hc, labels=self.scope.labels(HUB_RESOURCE, "hub-seed"),
                                   detach=True)["Id"]
        repo = None
        try:
            api.start(cid)
            port = int(api.port(cid, 5000)[0]["HostPort"])
            if not poll_until(lambda: _answers_http(f"http://127.0.0.1:{port}/v2/"), READY_TIMEOUT):
                raise DockerBackendError(f"the hub seeding registry does not answer on 127.0.0.1:{port}")
            repo = f"127.0.0.1:{port}/{HUB_REPO}"
            client.images.get(self.base_image).tag(repo, HUB_TAG)
            for chunk in client.images.push(repo, tag=HUB_TAG, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    msg = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                    raise DockerBackendError(f"pushing {self.base_image} to the hub as {HUB_REPO}:{HUB_TAG}: {msg}")
        finally:
            if repo is not None:
                try:
                    client.images.remove(f"{repo}:{HUB_TAG}", noprune=True)
                except NotFound:
                    pass
            try:
                with container_exits():
                    api.remove_container(cid, force=True, v=True)
            except NotFound:
                pass
