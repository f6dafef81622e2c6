"""Container registries (`/commonserviceitem`, `Provider.Class: containerregistry`, global)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from .errors import NotFound
from .models import Registry, RegistryUser
from .base import Resource

Permission = Literal["all", "readwrite", "readonly"]


class Registries(Resource[Registry]):
    path, singular, plural, model, kind = ("commonserviceitem", "CommonServiceItem",
                                           "CommonServiceItems", Registry, "container registry")
    is_global = True
    base_filter = {"Provider.Class": ["containerregistry"]}

    def _keep(self, m: Registry) -> bool:
        return m.provider_class in ("containerregistry", "")

    def create(self, name: str, tags: list[str], registry_name: str, description: str = "") -> Registry:
        """A private registry at `<registry_name>.sakuracr.jp` (the name is immutable)."""
        body = {"CommonServiceItem": {
            "Name": name, "Description": description, "Tags": list(tags),
            "Provider": {"Class": "containerregistry"},
            "Settings": {"ContainerRegistry": {"public": "none", "virtual_domain": ""}},
            "Status": {"registry_name": registry_name},
        }}
        return self._one(self._call("POST", self.path, body=body))

    def _users_path(self, id: str) -> str:
        return f"{self.path}/{id}/containerregistry/users"

    def users(self, id: str) -> list[RegistryUser]:
        doc = self._call("GET", self._users_path(id))
        block = doc.get("ContainerRegistry") or {}
        users = block.get("users") if isinstance(block, dict) else None
        return [RegistryUser.model_validate(u) for u in users or [] if isinstance(u, dict)]

    def add_user(self, id: str, username: str, password: SecretStr | str,
                 permission: Permission = "all") -> None:
        pw = password.get_secret_value() if isinstance(password, SecretStr) else password
        body = {"ContainerRegistry": {"username": username, "password": pw, "permission": permission}}
        self._call("POST", self._users_path(id), body=body)

    def update_user(self, id: str, username: str, password: SecretStr | str,
                    permission: Permission = "all") -> None:
        pw = password.get_secret_value() if isinstance(password, SecretStr) else password
        body = {"ContainerRegistry": {"password": pw, "permission": permission}}
        self._call("PUT", f"{self._users_path(id)}/{username}", body=body)

    def delete_user(self, id: str, username: str) -> bool:
        """False if the user did not exist."""
        try:
            self._call("DELETE", f"{self._users_path(id)}/{username}")
        except NotFound:
            return False
        return True
