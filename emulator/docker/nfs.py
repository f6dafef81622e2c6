"""NFS appliances as host directories: state_dir/nfs/<id>/export plus state_dir/nfs/by-ip/<ip> ->
../<id>/export. VMs see state_dir/nfs at /lab-nfs-root; the VM image's mount.nfs shim bind-mounts
/lab-nfs-root/by-ip/<ip>[/sub]. No container."""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from pathlib import Path

from .common import Scope, write_file


def _target(nfs_id: str) -> str:
    return f"../{nfs_id}/export"        # relative: resolves inside VMs at /lab-nfs-root/by-ip/<ip>


class NfsShares:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.root = scope.state_dir / "nfs"

    @property
    def by_ip(self) -> Path:
        return self.root / "by-ip"

    def export_dir(self, nfs_id: str) -> Path:
        return self.root / nfs_id / "export"

    def created(self, nfs_id: str, switch_id: str, ip: str, tags: list[str]) -> None:
        with self.scope.lock(nfs_id):
            self.export_dir(nfs_id).mkdir(parents=True, exist_ok=True)
            write_file(self.root / nfs_id / "meta.json", json.dumps({"switch_id": switch_id, "ip": ip, "tags": tags}))
            self.by_ip.mkdir(parents=True, exist_ok=True)
            link = self.by_ip / str(ipaddress.ip_address(ip))
            if not (link.is_symlink() and os.readlink(link) == _target(nfs_id)):
                tmp = self.by_ip / f".{ip}.{threading.get_ident()}.tmp"
                tmp.unlink(missing_ok=True)
                os.symlink(_target(nfs_id), tmp)
                os.replace(tmp, link)

    def deleted(self, nfs_id: str) -> None:
        with self.scope.lock(nfs_id):
            if self.by_ip.is_dir():
                for link in self.by_ip.iterdir():
                    if link.is_symlink() and os.readlink(link) == _target(nfs_id):
                        link.unlink()
            d = self.root / nfs_id
            if d.exists():
                self.scope.rmtree(d)

    def used_bytes(self, nfs_id: str) -> int | None:
        """The size of every file under the share's host directory (what the share holds)."""
        export = self.export_dir(nfs_id)
        if not export.is_dir():
            return None
        total = 0
        for top, _dirs, files in os.walk(export):
            for f in files:
                try:
                    total += os.lstat(os.path.join(top, f)).st_size
                except OSError:
                    continue
        return total

    def sweep(self, live: set[str]) -> None:
        """Remove the directories of shares that are not live and the links left dangling."""
        if not self.root.is_dir():
            return
        for p in self.root.iterdir():
            if p.name != "by-ip" and p.is_dir() and p.name not in live:
                self.scope.rmtree(p)
        for link in self.by_ip.iterdir() if self.by_ip.is_dir() else []:
            if link.is_symlink() and not link.exists():
                link.unlink()
