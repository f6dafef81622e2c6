"""The emulator's `docker` backend: servers are VM containers, switches are bridge networks, NFS shares
are host directories, registries and a Docker Hub stand-in are registry containers, packet filters are
iptables rules on this machine. `backend.py` composes the parts; each other module is one concern."""

from .backend import DockerBackend
from .common import L_INSTANCE, L_KIND, L_RESOURCE, L_TAGS, DockerBackendError

__all__ = ["DockerBackend", "DockerBackendError", "L_INSTANCE", "L_KIND", "L_RESOURCE", "L_TAGS"]
