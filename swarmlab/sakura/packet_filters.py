"""Packet filters (`/packetfilter`) and their attachment to a NIC. A filter has no Tags: find it by
exact name and, where ownership matters, a marker in its Description."""

from __future__ import annotations

from collections.abc import Iterable

from .base import Resource
from .errors import BadRequest, NotFound
from .models import Interface, PacketFilter, PacketFilterRule

MAX_RULES = 30  # the Terraform provider's limit per filter


def expression(rules: Iterable[PacketFilterRule]) -> list[dict]:
    """Rules as the API takes them (ports only on tcp/udp; empty values as null)."""
    out = []
    for r in rules:
        item: dict = {"Protocol": r.protocol, "SourceNetwork": r.source_network or None}
        if r.protocol in ("tcp", "udp"):
            item["SourcePort"] = r.source_port or None
            item["DestinationPort"] = r.destination_port or None
        item["Action"] = r.action
        item["Description"] = r.description
        out.append(item)
    return out


class PacketFilters(Resource[PacketFilter]):
    path, singular, plural, model, kind = "packetfilter", "PacketFilter", "PacketFilters", PacketFilter, \
        "packet filter"

    def create(self, name: str, rules: list[PacketFilterRule], description: str = "") -> PacketFilter:
        _check_count(name, rules)
        body = {"PacketFilter": {"Name": name, "Description": description, "Expression": expression(rules)}}
        return self._one(self._call("POST", self.path, body=body))

    def update(self, id: str, rules: list[PacketFilterRule], description: str | None = None) -> PacketFilter:
        """Replace the rules (and the description, if given)."""
        _check_count(id, rules)
        fields: dict = {"Expression": expression(rules)}
        if description is not None:
            fields["Description"] = description
        return self._one(self._call("PUT", f"{self.path}/{id}", body={"PacketFilter": fields}))

    def find(self, name: str | None = None, tags: list[str] | None = None) -> list[PacketFilter]:  # type: ignore[override]
        """Filters called exactly `name`; `tags` must be empty (filters have none)."""
        if tags:
            raise TypeError("packet filters have no tags; match their name and description instead")
        found = [PacketFilter.model_validate(x) for x in self.find_raw({"Name": [name]} if name else {})]
        return [f for f in found if name is None or f.name == name]

    def attach(self, nic_id: str, filter_id: str) -> Interface:
        """`PUT /interface/{nic}/to/packetfilter/{filter}`; replaces any filter on that NIC."""
        doc = self._call("PUT", f"interface/{nic_id}/to/packetfilter/{filter_id}")
        return Interface.model_validate(doc.get("Interface") or {"ID": nic_id})

    def detach(self, nic_id: str) -> bool:
        """`DELETE /interface/{nic}/to/packetfilter`; False if nothing was attached or the NIC is gone."""
        try:
            self._call("DELETE", f"interface/{nic_id}/to/packetfilter")
        except NotFound:
            return False
        except BadRequest as exc:
            if exc.error_code != "res_already_disconnected":
                raise
            return False
        return True


def _check_count(what: str, rules: list[PacketFilterRule]) -> None:
    if len(rules) > MAX_RULES:
        raise ValueError(f"packet filter {what}: {len(rules)} rules, at most {MAX_RULES} are allowed")
