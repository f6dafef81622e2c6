"""Notes (`/note`, global): startup scripts, and the public `sys-nfs` plan catalogue."""

from __future__ import annotations

from typing import Literal

from .models import Note
from .base import Resource


class Notes(Resource[Note]):
    path, singular, plural, model, kind = "note", "Note", "Notes", Note, "note"
    is_global = True

    def create(self, name: str, tags: list[str], content: str,
               klass: Literal["shell", "yaml_cloud_config", "json"] = "shell") -> Note:
        body = {"Note": {"Name": name, "Tags": list(tags), "Class": klass, "Content": content}}
        return self._one(self._call("POST", self.path, body=body))

    def update(self, id: str, content: str) -> Note:
        return self._one(self._call("PUT", f"{self.path}/{id}", body={"Note": {"Content": content}}))
