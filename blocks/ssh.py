"""The SSH key pair the flows log in with, as a Prefect Block."""

from __future__ import annotations

import os
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from swarmlab.hosts import SSHKey


class SSHKeyPair(Block):
    """An OpenSSH private key (kept secret) and its public line, injected into every server."""

    _block_type_name = "swarmlab SSH Key Pair"
    _block_type_slug = "swarmlab-ssh-key-pair"
    _description = ("The OpenSSH key pair the swarmlab flows log in to lab servers with: the public line is "
                    "registered on every server at provision, the private key (secret) never leaves the "
                    "controller. Without a block the flows use `.state/ssh/<lab>_ed25519`, made on first use; "
                    "`ssh-keygen -t ed25519` makes one by hand.")
    _logo_url = ("https://raw.githubusercontent.com/PrefectHQ/prefect/420d0d6a78bb6df1fc18bcf188fdad43c1d22ea9/"
                 "assets/block-logos/terminal.png")  # prefect-shell's terminal logo
    _documentation_url = "https://man.openbsd.org/ssh-keygen"

    private_key: SecretStr = Field(description="OpenSSH private key (PEM text)")
    public_key: str = Field(description="the matching 'ssh-ed25519 AAAA...' line")

    @classmethod
    def generate(cls) -> "SSHKeyPair":
        pair = SSHKey.generate()
        return cls(private_key=pair.private_key, public_key=pair.public_key)

    @staticmethod
    def key_file(lab: str) -> Path:
        """The lab's key file: SWARMLAB_SSH_KEY, else .state/ssh/<lab>_ed25519."""
        state = Path(os.environ.get("SWARMLAB_STATE_DIR", ".state"))
        return Path(os.environ.get("SWARMLAB_SSH_KEY") or state / "ssh" / f"{lab}_ed25519")

    @classmethod
    def from_file(cls, lab: str) -> "SSHKeyPair":
        """The lab's key file (`key_file`), generated on first use."""
        path = cls.key_file(lab)
        pub = path.with_name(path.name + ".pub")
        if not path.exists():
            pair = cls.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(pair.private_key.get_secret_value())
            pub.write_text(pair.public_key + "\n")
            return pair
        return cls(private_key=SecretStr(path.read_text()), public_key=pub.read_text().strip())

    @classmethod
    def resolve(cls, name: str | None, lab: str) -> "SSHKeyPair":
        """The named block, or the lab's local key file when no name is given."""
        return cls.load(name) if name else cls.from_file(lab)
