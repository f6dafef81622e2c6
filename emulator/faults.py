"""Fault injection and timing knobs, settable by flags and at runtime via PUT /_emulator/faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .errors import bad


@dataclass
class Faults:
    busy_rate: float = 0.0          # share of API requests answered 503 busy before doing anything
    delay_scale: float = 1.0        # multiplies every async transition delay
    fail_disks: int = 0             # the next N disks created end `failed`
    still_creating_s: float = 0.0   # power calls within this many seconds of a server/NFS create: 409
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("busy_rate", "delay_scale", "fail_disks", "still_creating_s")}

    def update(self, changes: dict) -> dict:
        if not isinstance(changes, dict):
            raise bad("invalid_format", "faults must be a JSON object")
        types = {"busy_rate": float, "delay_scale": float, "fail_disks": int, "still_creating_s": float}
        parsed = {}
        for key, value in changes.items():
            if key not in types or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad("invalid_format", f"unknown fault or bad value: {key}={value!r}")
            if value < 0 or (key == "busy_rate" and value > 1):
                raise bad("invalid_range", f"{key} out of range: {value}")
            parsed[key] = types[key](value)
        with self._lock:
            for key, value in parsed.items():
                setattr(self, key, value)
            return self.as_dict()

    def take_failed_disk(self) -> bool:
        """Consume one `fail_disks` credit; True if this disk must fail."""
        with self._lock:
            if self.fail_disks > 0:
                self.fail_disks -= 1
                return True
            return False
