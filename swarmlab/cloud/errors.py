"""Typed errors of provision: each names the resource and says what to do (never retried)."""

from __future__ import annotations

from swarmlab.errors import SwarmlabError


class ProvisionError(SwarmlabError, RuntimeError):
    """The cloud holds something provision cannot adopt; a re-run will not fix it without a hand."""


class DuplicateResources(ProvisionError):
    def __init__(self, what: str, ids: list[str]):
        self.what, self.ids = what, list(ids)
        super().__init__(f"{what}: {len(ids)} resources carry this exact name and the lab's tags ({', '.join(ids)}); "
                         f"delete the extra ones (teardown_lab removes all of them)")


class ForeignFilter(ProvisionError):
    def __init__(self, name: str, ids: list[str], lab: str):
        self.name, self.ids, self.lab = name, list(ids), lab
        super().__init__(f"packet filter {name} ({', '.join(ids)}) exists without the marker of "
                         f"lab {lab} in its Description; rename or delete it, then re-run provision")


class NicMissing(ProvisionError):
    def __init__(self, server: str, server_id: str, where: str, then: str = "re-run provision"):
        self.server, self.server_id, self.where = server, server_id, where
        super().__init__(f"server {server} ({server_id}) has no NIC on {where}; delete it and {then}")


class RouterWithoutBlock(ProvisionError):
    def __init__(self, name: str, router_id: str | None, server: str):
        self.name, self.router_id, self.server = name, router_id, server
        super().__init__(f"router+switch {name} ({router_id or 'not created'}) shows no block of addresses, so "
                         f"{server}'s public address cannot be chosen; wait for the router to be ready and re-run")


class LabNotFound(ProvisionError, LookupError):
    def __init__(self, lab: str, name: str, zone: str | None):
        self.lab, self.name, self.zone = lab, name, zone
        super().__init__(f"lab {lab}: {name} does not exist in {zone}; run provision first")


class RouterMismatch(ProvisionError):
    def __init__(self, name: str, router_id: str, has: str, want: str):
        self.name, self.router_id = name, router_id
        super().__init__(f"router+switch {name} ({router_id}) has {has}, the spec's router wants {want}; tear the "
                         f"lab down (a router's block cannot change) or set router.mask_len to match, then re-run")
