"""What every resource accessor shares: find (server-side filter + exact client-side re-check),
get, delete, and power on/off for things that have an `Instance`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from .errors import Conflict, NotFound, SakuraError
from .query import find_query, name_tags_filter
from .wait import wait

if TYPE_CHECKING:
    from .client import SakuraClient

M = TypeVar("M", bound=BaseModel)
PAGE = 100
WAIT_STATES = ("", "migrating", "uploading", "transfering", "discontinued")


class Resource(Generic[M]):
    path: ClassVar[str]
    singular: ClassVar[str]
    plural: ClassVar[str]
    model: ClassVar[type]
    kind: ClassVar[str]                 # human name in messages: "switch", "server", ...
    is_global: ClassVar[bool] = False   # global resources are called through the global zone
    base_filter: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, client: SakuraClient):
        self._client = client

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def zone(self) -> str:
        return self._client.global_zone if self.is_global else self._client.zone

    def _call(self, method: str, path: str, body: Any = None,
              query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._client.transport.request(method, path, body=body, query=query, zone=self.zone)

    def _one(self, doc: Mapping[str, Any]) -> M:
        data = doc.get(self.singular)
        if not isinstance(data, dict):
            raise SakuraError(f"the API answer has no {self.singular!r} object "
                              f"(keys: {sorted(doc)}); is api_root right?")
        return self.model.model_validate(data)

    def _what(self, obj_or_id: Any) -> str:
        if isinstance(obj_or_id, BaseModel):
            name = getattr(obj_or_id, "name", "")
            return f"{self.kind} {name!r} (ID {obj_or_id.id})" if name else f"{self.kind} {obj_or_id.id}"
        return f"{self.kind} {obj_or_id}"

    def _wait(self, id: str, done: Callable[[M], bool], failed: Callable[[M], bool],
              timeout_s: float, wanted: str, tolerate_not_found: int = 0) -> M:
        first: Any = id
        try:
            first = self.get(id)
        except NotFound:
            if not tolerate_not_found:
                raise
        return wait(lambda: self.get(id), done, failed, timeout_s, self._what(first), wanted=wanted,
                    poll_interval_s=self._client.poll_interval_s, state=_state,
                    tolerate_not_found=tolerate_not_found)

    # -- common operations --------------------------------------------------------------------
    def find_raw(self, filter_: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All items matching a server-side `Filter`, across pages, as raw dicts."""
        f = {**self.base_filter, **(filter_ or {})}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        offset = 0
        while True:
            doc = self._call("GET", self.path, query=find_query(f, count=PAGE, from_=offset))
            page = doc.get(self.plural) or []
            fresh = [x for x in page if isinstance(x, dict) and str(x.get("ID")) not in seen]
            seen.update(str(x.get("ID")) for x in fresh)
            items.extend(fresh)
            total = doc.get("Total")
            if not fresh or len(page) < PAGE or total is None or len(items) >= int(total):
                return items
            offset += len(page)

    def find(self, name: str | None = None, tags: list[str] | None = None) -> list[M]:
        """Resources whose name is exactly `name` (if given) and that carry all `tags`.

        Filters server-side (`Name` exact array, `Tags.Name` AND) and re-checks client-side,
        because the API's name search can be partial ("lab-worker1" vs "lab-worker10").
        """
        tags = list(tags or [])
        found = [self.model.model_validate(x) for x in self.find_raw(name_tags_filter(name, tags))]
        return [m for m in found
                if (name is None or m.name == name) and set(tags) <= set(m.tags) and self._keep(m)]

    def _keep(self, m: M) -> bool:
        """Client-side re-check of `base_filter` (the server may ignore unknown filter keys)."""
        return True

    def get(self, id: str) -> M:
        return self._one(self._call("GET", f"{self.path}/{id}"))

    def set_tags(self, id: str, tags: list[str]) -> M:
        """Replace the resource's tags (`PUT /{path}/{id}` with only `Tags`)."""
        return self._one(self._call("PUT", f"{self.path}/{id}", body={self.singular: {"Tags": list(tags)}}))

    def delete(self, id: str) -> bool:
        """Delete; returns False if it was already gone (404), so teardown can be re-run."""
        try:
            self._call("DELETE", f"{self.path}/{id}")
        except NotFound:
            return False
        return True


def _state(obj: Any) -> str:
    parts = []
    for attr, label in (("availability", "availability"), ("status", "status")):
        value = getattr(obj, attr, None)
        if isinstance(value, str):
            parts.append(f"{label}={value or '?'}")
    return " ".join(parts) or repr(obj)


class PowerMixin:
    """Idempotent power on/off and waiters for resources with an `Instance` (servers, NFS)."""

    def power_on(self, id: str):
        """Boot unless already up. A 409 `conflict` (already booting/up) counts as success after
        re-reading the status; returns the re-read resource."""
        obj = self.get(id)
        if obj.status == "up":
            return obj
        if obj.status == "cleaning":  # still shutting down: booting now would be refused
            self.wait_down(id)
        try:
            self._call("PUT", f"{self.path}/{id}/power")
        except Conflict as exc:
            if exc.error_code not in ("conflict", "res_already_connected"):
                raise
            obj = self.get(id)
            if obj.status == "cleaning":
                raise
            return obj  # up, or down with a boot already accepted: wait_up decides
        return self.get(id)

    def power_off(self, id: str, force: bool = False):
        """Shut down (ACPI, or forced power-off) unless already down. A 409 `conflict` counts as
        success when the re-read status is down or cleaning."""
        obj = self.get(id)
        if obj.status == "down" or (obj.status == "cleaning" and not force):
            return obj
        try:
            self._call("DELETE", f"{self.path}/{id}/power", body={"Force": True} if force else None)
        except Conflict as exc:
            if exc.error_code != "conflict":
                raise
            obj = self.get(id)
            if obj.status not in ("down", "cleaning"):
                raise
            return obj
        return self.get(id)

    def wait_up(self, id: str, timeout_s: float = 600.0):
        return self._wait(id, lambda o: o.availability == "available" and o.status == "up",
                          lambda o: o.availability == "failed", timeout_s, "up",
                          tolerate_not_found=self._not_found_grace)

    def wait_down(self, id: str, timeout_s: float = 600.0):
        return self._wait(id, lambda o: o.status == "down", lambda o: o.availability == "failed",
                          timeout_s, "down")

    def stop(self, id: str, timeout_s: float = 600.0) -> bool:
        """Force it off unless down and wait until down; False if it is gone."""
        try:
            if self.get(id).status != "down":
                self.power_off(id, force=True)
                self.wait_down(id, timeout_s)
        except NotFound:
            return False
        return True

    _not_found_grace = 0


def ids(values: Iterable[Any]) -> list[str]:
    return [str(v) for v in values]
