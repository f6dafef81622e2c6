"""Container registries: `<instance>-registry-<id>` of lab/registry:2.8 on the shared network with the alias
<fqdn>, TLS on 443 with a certificate from the instance's CA, htpasswd auth, data in volume
`<instance>-<id>-registry`, config (cert, key, htpasswd) under state_dir/registries/<id>."""

from __future__ import annotations

import shutil
from pathlib import Path

from docker.errors import APIError
from docker.types import EndpointConfig, Mount

from ..backend import RegistryUser
from .common import DockerBackendError, Scope, safe_hostname, write_file
from .networks import Networks
from .tls import CertificateAuthority


def registry_mounts(volume: str, config_dir: Path) -> list[Mount]:
    """Data in `volume`, config (cert, key, htpasswd, config.yml) read-only at /etc/lab-registry."""
    return [Mount("/var/lib/docker-registry", volume, type="volume"),
            Mount("/etc/lab-registry", str(config_dir), type="bind", read_only=True)]


def create_registry_container(scope: Scope, networks: Networks, image: str, *, name: str, hostname: str,
                              volume: str, config_dir: Path, aliases: list[str], labels: dict[str, str],
                              error: str, command: list[str] | None = None):
    """A registry container on the shared network (`registry_mounts`), created, not started. `error` opens
    the message of the DockerBackendError raised if the daemon refuses."""
    shared = networks.ensure_shared()
    api = scope.client.api
    hc = api.create_host_config(mounts=registry_mounts(volume, config_dir), network_mode=shared.name,
                                restart_policy={"Name": "unless-stopped"})
    netcfg = api.create_networking_config({shared.name: EndpointConfig(api._version, aliases=aliases)})
    try:
        cid = api.create_container(image, name=name, hostname=hostname, command=command, host_config=hc,
                                   networking_config=netcfg, labels=labels, detach=True)["Id"]
    except APIError as e:
        raise DockerBackendError(f"{error}: {e.explanation}") from None
    return scope.client.containers.get(cid)


class Registries:
    def __init__(self, scope: Scope, networks: Networks, ca: CertificateAuthority, image: str) -> None:
        self.scope = scope
        self.networks = networks
        self.ca = ca
        self.image = image

    def dir(self, registry_id: str) -> Path:
        return self.scope.state_dir / "registries" / registry_id

    def address(self, registry_id: str) -> str | None:
        """The registry's IP on the shared network (the host can reach it; VMs resolve it by fqdn)."""
        return self.scope.address_on(self.networks.shared_name, self.scope.container(registry_id, "registry"))

    def created(self, registry_id: str, fqdn: str, tags: list[str]) -> None:
        with self.scope.lock(registry_id):
            d = self.dir(registry_id)
            d.mkdir(parents=True, exist_ok=True)
            self.ca.issue(fqdn, d)
            if not (d / "htpasswd").exists():
                write_file(d / "htpasswd", "")
            write_file(d / "fqdn", fqdn + "\n")
            c = self.scope.container(registry_id, "registry")
            if c is None:
                volume = f"{self.scope.instance}-{registry_id}-registry"
                self.scope.ensure_volume(volume, registry_id, "registry", tags)
                c = create_registry_container(
                    self.scope, self.networks, self.image, name=f"{self.scope.instance}-registry-{registry_id}",
                    hostname=safe_hostname(fqdn.split(".")[0]), volume=volume, config_dir=d, aliases=[fqdn],
                    labels=self.scope.labels(registry_id, "registry", tags),
                    error=f"registry {registry_id}: cannot create its container")
            if c.status != "running":
                c.start()
            self.scope.wait_running(c)
            self.scope.wait_tcp(lambda: self.address(registry_id), 443, f"registry {registry_id}")

    def users_changed(self, registry_id: str, users: list[RegistryUser]) -> None:
        with self.scope.lock(registry_id):
            lines = "".join(f"{u.username}:{u.password_bcrypt}\n" for u in users)
            # the registry re-reads htpasswd when its mtime changes, so a rewrite is enough
            write_file(self.dir(registry_id) / "htpasswd", lines)

    def deleted(self, registry_id: str) -> None:
        with self.scope.lock(registry_id):
            self.scope.remove_resource(registry_id)
            shutil.rmtree(self.dir(registry_id), ignore_errors=True)
