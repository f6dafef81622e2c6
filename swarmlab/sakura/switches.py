"""Switches (`/switch`)."""

from __future__ import annotations

from .models import Server, Switch
from .base import Resource


class Switches(Resource[Switch]):
    path, singular, plural, model, kind = "switch", "Switch", "Switches", Switch, "switch"

    def create(self, name: str, tags: list[str], description: str = "") -> Switch:
        body = {"Switch": {"Name": name, "Description": description, "Tags": list(tags)}}
        return self._one(self._call("POST", self.path, body=body))

    def servers(self, id: str) -> list[Server]:
        """Servers with a NIC on this switch (`GET /switch/{id}/server`)."""
        doc = self._call("GET", f"{self.path}/{id}/server")
        return [Server.model_validate(x) for x in doc.get("Servers") or []]
