"""Router+switch (`/internet`): a router with a block of public addresses and the switch it comes with.
A server's NIC joins that switch as any switch (`Interfaces.connect`) and takes an address of the block
(`RouterSubnet.assignable`: the first 4 and the broadcast are the router's)."""

from __future__ import annotations

from .base import Resource
from .models import Internet

MASK_LENS = (28, 27, 26)   # the member plans: /28 is the smallest block


class Internets(Resource[Internet]):
    path, singular, plural, model, kind = "internet", "Internet", "Internets", Internet, "router+switch"

    def create(self, name: str, tags: list[str], mask_len: int = 28, band_width_mbps: int = 100,
               description: str = "") -> Internet:
        """Create the router and its switch; the answer carries the switch and its block of addresses."""
        if mask_len not in MASK_LENS:
            raise ValueError(f"router+switch {name}: mask_len {mask_len} is not offered; use one of {MASK_LENS}")
        body = {"Internet": {"Name": name, "Description": description, "Tags": list(tags),
                             "NetworkMaskLen": mask_len, "BandWidthMbps": band_width_mbps}}
        return self._one(self._call("POST", self.path, body=body))
