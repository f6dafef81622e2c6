"""Price list (`GET /public/price`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import ServiceClass

if TYPE_CHECKING:
    from .client import SakuraClient


class Prices:
    path, plural = "public/price", "ServiceClasses"

    def __init__(self, client: SakuraClient):
        self._client = client

    def list(self) -> list[ServiceClass]:
        doc = self._client.transport.request("GET", self.path, zone=self._client.zone)
        return [ServiceClass.model_validate(x) for x in doc.get(self.plural) or [] if isinstance(x, dict)]
