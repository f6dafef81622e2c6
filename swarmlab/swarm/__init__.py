"""Docker Swarm formation: facts (pure parsers) → plan (pure) → apply (through swarmlab.hosts)."""

from .apply import (
    JoinTokens,
    apply_plan,
    gather_facts,
    join_tokens,
    node_table,
    observe,
    rotate_join_tokens,
    swarm_facts,
)
from .errors import (ForeignSwarm, SwarmError, SwarmFactsError, SwarmJoinFailed, SwarmNoLeader, SwarmNodeState,
                     SwarmUnavailable)
from .facts import (
    LocalNodeState,
    NodeInspect,
    NodeRow,
    NodeSwarmFacts,
    is_no_leader,
    parse_node_inspect,
    parse_node_ls,
    parse_swarm_info,
    raise_if_no_leader,
)
from .plan import Action, Drain, Init, Join, SwarmPlan, plan_swarm

__all__ = [
    "Action",
    "Drain",
    "ForeignSwarm",
    "Init",
    "Join",
    "JoinTokens",
    "LocalNodeState",
    "NodeInspect",
    "NodeRow",
    "NodeSwarmFacts",
    "SwarmError",
    "SwarmFactsError",
    "SwarmJoinFailed",
    "SwarmNoLeader",
    "SwarmNodeState",
    "SwarmPlan",
    "SwarmUnavailable",
    "apply_plan",
    "gather_facts",
    "is_no_leader",
    "join_tokens",
    "node_table",
    "observe",
    "parse_node_inspect",
    "parse_node_ls",
    "parse_swarm_info",
    "plan_swarm",
    "raise_if_no_leader",
    "rotate_join_tokens",
    "swarm_facts",
]
