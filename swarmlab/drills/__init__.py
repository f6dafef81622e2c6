"""Drills: break the lab on purpose while a probe counts what users would have seen."""

#: the drills in the order they run (`haproxy down` on an `edge: pair` lab only)
DRILLS = ("scale", "rolling update", "rollback", "database restart", "worker down", "one manager down",
          "two managers down", "all managers down", "recovery", "haproxy down")
