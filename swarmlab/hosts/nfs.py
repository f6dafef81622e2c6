"""nfs_share: the NFS export mounted on every worker, and PostgreSQL's data directory on it."""

from __future__ import annotations

import shlex

from swarmlab.hosts import Session
from swarmlab.spec import LabSpec

POSTGRES_UID = 999  # the postgres user in images/postgres


def export(spec: LabSpec) -> str:
    return f"{spec.nfs.ip}:{spec.nfs.export}"


def mount_on_host(session: Session, spec: LabSpec) -> bool:
    """An fstab line for the export and the export mounted at spec.nfs.mount_point; True if changed."""
    mnt, src = shlex.quote(spec.nfs.mount_point), export(spec)
    line = f"{src} {spec.nfs.mount_point} nfs defaults,_netdev,nfsvers=4 0 0"
    out = session.run(f"""set -e
changed=0
grep -qsF {shlex.quote(line)} /etc/fstab || {{ echo {shlex.quote(line)} >> /etc/fstab; changed=1; }}
mkdir -p {mnt}
mountpoint -q {mnt} || {{ mount {mnt}; changed=1; }}
echo changed=$changed""", sudo=True, timeout_s=120).stdout
    return "changed=1" in out


def ensure_data_dir(session: Session, spec: LabSpec, uid: int = POSTGRES_UID) -> bool:
    """Mount the export once, create the data directory owned by PostgreSQL, unmount; True if created."""
    d = shlex.quote(spec.nfs.data_dir)
    out = session.run(f"""set -e
tmp=$(mktemp -d /tmp/swarmlab-nfs.XXXXXX)
mount -t nfs -o rw,nfsvers=4 {shlex.quote(export(spec))} "$tmp"
trap 'umount "$tmp"; rmdir "$tmp"' EXIT
if [ -d "$tmp"/{d} ]; then echo changed=0; else mkdir "$tmp"/{d}; echo changed=1; fi
chown {uid}:{uid} "$tmp"/{d}
chmod 700 "$tmp"/{d}""", sudo=True, timeout_s=120).stdout
    return "changed=1" in out
