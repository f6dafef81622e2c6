"""The SSH key pair the flows log in with, as a Prefect Block."""

from __future__ import annotations

import os
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from swarmlab.hosts import SSHKey


class SSHKeyPair(Block):
    """Key pair the swarmlab flows use to SSH into lab servers."""

    _block_type_name = "swarmlab SSH Key Pair"  # slug and description: Prefect's, from it and the docstring

    private_key: SecretStr = Field(description="OpenSSH private key (PEM text)")
    public_key: str = Field(description="the matching 'ssh-ed25519 AAAA...' line")

    @classmethod
    def generate(cls) -> "SSHKeyPair":
        pair = SSHKey.generate()
        return cls(private_key=pair.private_key, public_key=pair.public_key)

    @classmethod
    def from_file(cls, lab: str) -> "SSHKeyPair":
        """The lab's key file (SWARMLAB_SSH_KEY or .state/ssh/<lab>_ed25519), generated on first use."""
        state = Path(os.environ.get("SWARMLAB_STATE_DIR", ".state"))
        path = Path(os.environ.get("SWARMLAB_SSH_KEY") or state / "ssh" / f"{lab}_ed25519")
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
