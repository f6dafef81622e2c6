"""`SwarmlabError`: the root of every error the library raises, and `redact`, which every message goes through."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

__all__ = ["REDACTED", "SwarmlabError", "redact"]

REDACTED = "***"


class SwarmlabError(Exception):
    """Base of every package's errors (`SakuraError`, `HostError`, `SwarmError`, `PublishError`, ...).

    Picklable whatever a subclass's `__init__` takes (Prefect carries exceptions across threads and
    processes): it is rebuilt from its `args` and attributes, not by calling `__init__` again.
    """

    def __reduce__(self):
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type, args: tuple, state: dict[str, Any]) -> SwarmlabError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


def redact(text: str, *secrets: str | SecretStr | None) -> str:
    """`text` with every non-empty secret replaced by `***` (longest first, so one secret inside another
    leaves nothing of either)."""
    values = {s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets}
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
