"""Archives (`/archive`): public OS images, looked up by tags."""

from __future__ import annotations

from .errors import NoMatch
from .models import Archive
from .query import name_tags_filter
from .base import Resource


class Archives(Resource[Archive]):
    path, singular, plural, model, kind = "archive", "Archive", "Archives", Archive, "archive"

    def find_by_tags(self, tags: list[str]) -> Archive:
        """The shared (public) archive carrying all `tags`, e.g. `["ubuntu-24.04-latest"]`.

        Prefers `available` ones, then the API's display order."""
        raw = self.find_raw(name_tags_filter(None, tags, Scope="shared"))
        found = [a for a in map(Archive.model_validate, raw)
                 if set(tags) <= set(a.tags) and a.scope in ("shared", "")]
        if not found:
            raise NoMatch(f"public archive in zone {self.zone} has all tags {list(tags)}",
                          "check the OS tags (e.g. ubuntu-24.04-latest, or current-stable + "
                          "distro-ubuntu) and that the OS is offered in this zone")
        found.sort(key=lambda a: (a.availability != "available",
                                  a.display_order if a.display_order is not None else 1 << 30))
        return found[0]
