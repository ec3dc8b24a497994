"""EMR's cluster and step states, as the API names them (style item 11)."""

from __future__ import annotations

from enum import StrEnum


class ClusterState(StrEnum):
    """``Cluster.Status.State`` of ``DescribeCluster`` / ``ListClusters``."""

    STARTING = "STARTING"
    BOOTSTRAPPING = "BOOTSTRAPPING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    TERMINATED_WITH_ERRORS = "TERMINATED_WITH_ERRORS"


class StepState(StrEnum):
    """``Step.Status.State`` of ``DescribeStep`` / ``ListSteps``."""

    PENDING = "PENDING"
    CANCEL_PENDING = "CANCEL_PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


#: States a cluster or step never leaves.
TERMINAL_STATES: frozenset[ClusterState | StepState] = frozenset({
    ClusterState.TERMINATED,
    ClusterState.TERMINATED_WITH_ERRORS,
    StepState.COMPLETED,
    StepState.CANCELLED,
    StepState.FAILED,
    StepState.INTERRUPTED,
})
