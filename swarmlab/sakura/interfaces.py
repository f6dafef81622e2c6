"""NICs (`/interface`). They have no name or tags: use `Server.interfaces` to find them."""

from __future__ import annotations

from .models import Interface
from .base import Resource


class Interfaces(Resource[Interface]):
    path, singular, plural, model, kind = "interface", "Interface", "Interfaces", Interface, "NIC"

    def find(self, name=None, tags=None):  # type: ignore[override]
        raise TypeError("NICs have no name or tags; read them from servers.get(id).interfaces")

    def set_user_ip(self, nic_id: str, ip: str) -> Interface:
        """Set the display IP (`UserIPAddress`) of a NIC on a switch."""
        return self._one(self._call("PUT", f"{self.path}/{nic_id}",
                                    body={"Interface": {"UserIPAddress": ip}}))

    def add(self, server_id: str) -> Interface:
        """A new NIC on a stopped server (`POST /interface`), connected to nothing."""
        return self._one(self._call("POST", self.path, body={"Interface": {"Server": {"ID": server_id}}}))

    def connect(self, nic_id: str, switch_id: str) -> Interface:
        """Connect the NIC to a switch, a router's included (`PUT /interface/{id}/to/switch/{switch}`);
        the server must be stopped."""
        return self._one(self._call("PUT", f"{self.path}/{nic_id}/to/switch/{switch_id}"))

    def disconnect(self, nic_id: str) -> None:
        """Disconnect the NIC from its switch (`DELETE /interface/{id}/to/switch`); the NIC stays on its server."""
        self._call("DELETE", f"{self.path}/{nic_id}/to/switch")
