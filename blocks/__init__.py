"""Prefect Blocks: credentials and connection settings (`prefect block register -m blocks`)."""

from blocks.sakura import SakuraCloudCredentials
from blocks.ssh import SSHKeyPair

__all__ = ["SakuraCloudCredentials", "SSHKeyPair"]
