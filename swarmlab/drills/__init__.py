"""Drills: break the lab on purpose while a probe counts what users would have seen."""
