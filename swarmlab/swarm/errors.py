"""Typed errors of the swarm layer. Every message names the node and says what to do."""

from __future__ import annotations

from swarmlab.errors import SwarmlabError

__all__ = ["ForeignSwarm", "SwarmError", "SwarmFactsError", "SwarmJoinFailed", "SwarmNoLeader", "SwarmNodeState",
           "SwarmUnavailable"]


class SwarmError(SwarmlabError):
    def __init__(self, host: str, message: str):
        super().__init__(message)
        self.host = host


class SwarmNoLeader(SwarmError):
    """A manager says the swarm has no leader (quorum lost) or timed out asking for one."""

    def __init__(self, host: str, detail: str = ""):
        text = f": {detail.strip()}" if detail.strip() else ""
        super().__init__(host, f"the swarm has no leader (seen on {host}){text}. More than half of the "
                               "managers must be online: start the stopped managers and wait until "
                               "`docker node ls` lists them Ready; if they are gone for good, run "
                               "`docker swarm init --force-new-cluster` on a surviving manager.")
        self.detail = detail


class ForeignSwarm(SwarmError):
    """A node of this lab is already in another swarm. swarmlab never makes it leave on its own."""

    def __init__(self, host: str, detail: str):
        super().__init__(host, f"{host} is already in another swarm ({detail}), not this lab's. swarmlab "
                               "never makes a node leave a swarm on its own: if it should join this lab, run "
                               f"`docker swarm leave --force` on {host} (and remove its stale entry from the "
                               "other swarm), then run the flow again.")
        self.detail = detail


class SwarmNodeState(SwarmError):
    """A node is in a state the planner will not act on (locked, error, wrong role)."""

    def __init__(self, host: str, detail: str):
        super().__init__(host, f"{host}: {detail}")
        self.detail = detail


class SwarmUnavailable(SwarmError):
    """Some nodes are in a swarm but no manager of it can be reached: forming a new one would split the lab."""

    def __init__(self, host: str, detail: str):
        super().__init__(host, f"{detail}. Not starting a new swarm, which would split the lab in two: bring "
                               "the managers back (or make them reachable over SSH) and run the flow again.")
        self.detail = detail


class SwarmFactsError(SwarmError):
    """`docker info` / `docker node ls` output could not be parsed."""

    def __init__(self, host: str, detail: str):
        super().__init__(host, f"{host}: cannot read swarm facts: {detail}. Is Docker running there "
                               "(`docker info`)?")
        self.detail = detail


class SwarmJoinFailed(SwarmError):
    """The Engine API refused or failed `POST /swarm/join` on a node (the message never holds the token)."""

    def __init__(self, host: str, manager_addr: str, detail: str):
        super().__init__(host, f"{host}: joining the swarm via {manager_addr} failed: {detail}. Check that "
                               f"{manager_addr} is reachable from {host} on the lab switch (2377/tcp, 7946/tcp+udp, "
                               "4789/udp) and that `docker info` there is healthy, then run the flow again.")
        self.manager_addr = manager_addr
        self.detail = detail
