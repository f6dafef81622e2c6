"""SSH public keys (`/sshkey`, global)."""

from __future__ import annotations

from .models import SSHKey
from .base import Resource


class SSHKeys(Resource[SSHKey]):
    path, singular, plural, model, kind = "sshkey", "SSHKey", "SSHKeys", SSHKey, "SSH key"
    is_global = True

    def find(self, name: str | None = None, tags: list[str] | None = None) -> list[SSHKey]:
        """SSH keys have no tags, so a lookup by tags finds nothing; find them by exact name."""
        if tags:
            return []
        return super().find(name)

    def create(self, name: str, public_key: str, description: str = "") -> SSHKey:
        body = {"SSHKey": {"Name": name, "Description": description, "PublicKey": public_key.strip()}}
        return self._one(self._call("POST", self.path, body=body))
