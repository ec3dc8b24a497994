"""A job flow as a value (seed 003, design D4.3) and its state machine, pure.

A :class:`JobFlow` is what one ivory job on a cluster is: its steps, its parameters (plan,
result, package and run URIs, the repository and the command) and the callbacks to run when
it succeeds or fails. Nothing here calls AWS: :func:`decide_flow` turns what EMR's
``DescribeCluster`` and ``ListSteps`` answered into a :class:`FlowStatus`, and the waiting
loop (:func:`ivory.emr.client.wait_for_flow`) polls until that status is final.

Rules of :func:`decide_flow`, in order:

1. a step ``FAILED``, ``CANCELLED`` or ``INTERRUPTED``: the flow failed (the first ``FAILED``
   step is named, else the first other one), with the step's failure reason and log file;
2. every expected step ``COMPLETED``: the flow succeeded (the cluster then terminates by
   itself: ``KeepJobFlowAliveWhenNoSteps`` is false);
3. the cluster ``TERMINATED`` or ``TERMINATED_WITH_ERRORS`` (terminated by hand, idle
   timeout, lost instances, bootstrap failure) before that: the flow failed with the
   cluster's state-change reason;
4. otherwise it is still ``starting`` (cluster ``STARTING``/``BOOTSTRAPPING``) or
   ``running``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivory.emr.types import ClusterState, StepState

log = logging.getLogger(__name__)

_STEP_FAILED = (StepState.FAILED, StepState.CANCELLED, StepState.INTERRUPTED)


class FlowState(StrEnum):
    """Where a job flow is."""

    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class StepStatus:
    """One step: ``name``, EMR ``state``, its ``step_id`` (``s-...``), and when it failed the
    ``reason`` and the ``log_file`` EMR reported."""

    name: str
    state: str
    step_id: str = ""
    reason: str | None = None
    log_file: str | None = None


@dataclass(frozen=True)
class FlowStatus:
    """The state of a flow at one poll.

    Attributes:
        state: see :class:`FlowState`.
        cluster_state: EMR's cluster state, e.g. ``"RUNNING"``.
        steps: every step in submission order.
        failed_step: the name of the step that failed, when one did.
        reason: why the flow failed (one line), None otherwise.
        log_file: where the failed step's log is, when EMR said.
    """

    state: FlowState
    cluster_state: str
    steps: tuple[StepStatus, ...] = ()
    failed_step: str | None = None
    reason: str | None = None
    log_file: str | None = None

    @property
    def done(self) -> bool:
        return self.state in (FlowState.SUCCEEDED, FlowState.FAILED)

    def progress(self) -> str:
        """One line, e.g. ``RUNNING, step 2/3 'ivory snapshot: spark-submit' RUNNING``."""
        current = next((s for s in self.steps if s.state != StepState.COMPLETED),
                       self.steps[-1] if self.steps else None)
        if current is None:
            return self.cluster_state
        n = self.steps.index(current) + 1
        return f"{self.cluster_state}, step {n}/{len(self.steps)} '{current.name}' {current.state}"


def parse_steps(steps: Sequence[Mapping[str, Any]]) -> tuple[StepStatus, ...]:
    """:class:`StepStatus` of ``ListSteps`` entries, oldest first (EMR lists newest first:
    entries are ordered by their creation time, then reversed input order)."""
    ordered = list(reversed(steps))
    out = []
    for step in ordered:
        status = step.get("Status", {})
        details = status.get("FailureDetails") or {}
        reason = " ".join(str(x) for x in (details.get("Reason"), details.get("Message"))
                          if x) or None
        if reason is None and status.get("State") in _STEP_FAILED:
            change = status.get("StateChangeReason") or {}
            reason = change.get("Message") or change.get("Code")
        out.append(StepStatus(step.get("Name", "?"), status.get("State", "?"),
                              step.get("Id", ""), reason, details.get("LogFile")))
    return tuple(out)


def decide_flow(cluster: Mapping[str, Any], steps: Sequence[Mapping[str, Any]],
                expected_steps: int) -> FlowStatus:
    """The flow's status from ``DescribeCluster``'s ``Cluster`` and ``ListSteps``' ``Steps``
    (see the module docstring for the rules).

    Args:
        cluster: ``{"Status": {"State": ..., "StateChangeReason": {"Code", "Message"}}}``.
        steps: ``ListSteps`` entries (newest first, as EMR returns them).
        expected_steps: how many steps the flow submitted.
    """
    status = cluster.get("Status", {})
    cluster_state = str(status.get("State", "?"))
    parsed = parse_steps(steps)
    failed = (next((s for s in parsed if s.state == StepState.FAILED), None)
              or next((s for s in parsed if s.state in _STEP_FAILED), None))
    if failed is not None:
        reason = failed.reason or f"step {failed.state.lower()}"
        return FlowStatus(FlowState.FAILED, cluster_state, parsed, failed.name,
                          f"step '{failed.name}' {failed.state}: {reason}", failed.log_file)
    if len(parsed) >= expected_steps and all(s.state == StepState.COMPLETED for s in parsed):
        return FlowStatus(FlowState.SUCCEEDED, cluster_state, parsed)
    if cluster_state in (ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS):
        change = status.get("StateChangeReason") or {}
        why = change.get("Message") or change.get("Code") or "no reason given"
        return FlowStatus(FlowState.FAILED, cluster_state, parsed, None,
                          f"the cluster {cluster_state} before its steps completed: {why}")
    if cluster_state in (ClusterState.STARTING, ClusterState.BOOTSTRAPPING):
        return FlowStatus(FlowState.STARTING, cluster_state, parsed)
    return FlowStatus(FlowState.RUNNING, cluster_state, parsed)


@dataclass(frozen=True)
class FlowOutcome:
    """How a flow ended: the cluster id and the last status."""

    cluster_id: str
    status: FlowStatus

    @property
    def succeeded(self) -> bool:
        return self.status.state == FlowState.SUCCEEDED


Callback = Callable[[FlowOutcome], None]


@dataclass(frozen=True)
class JobFlow:
    """One job on an ephemeral cluster, as a value (seed 003).

    Attributes:
        name: the cluster's name, e.g. ``"ivory snapshot 2014-06-30"``.
        job: the job's name (``ingest``, ``snapshot``, ``chord``...).
        steps: the ``AddJobFlowSteps``/``RunJobFlow`` step dicts, in order.
        parameters: ``plan_uri``, ``result_uri``, ``run_uri``, ``package_uri``, ``repository``,
            ``command`` (strings).
        on_success / on_failure: callables run with the :class:`FlowOutcome` when the flow
            ends; a failing failure callback is logged and does not hide the flow's error.
    """

    name: str
    job: str
    steps: tuple[dict[str, Any], ...]
    parameters: Mapping[str, str] = field(default_factory=dict)
    on_success: tuple[Callback, ...] = ()
    on_failure: tuple[Callback, ...] = ()

    def with_callbacks(self, on_success: Sequence[Callback] = (),
                       on_failure: Sequence[Callback] = ()) -> JobFlow:
        """A copy with more callbacks (run after the existing ones)."""
        return JobFlow(self.name, self.job, self.steps, self.parameters,
                       (*self.on_success, *on_success), (*self.on_failure, *on_failure))


def run_callbacks(flow: JobFlow, outcome: FlowOutcome) -> None:
    """Run the success or the failure callbacks of ``flow``, in order.

    A success callback that raises propagates (the caller must not commit); a failure callback
    that raises is logged and the next one still runs.
    """
    if outcome.succeeded:
        for callback in flow.on_success:
            callback(outcome)
        return
    for callback in flow.on_failure:
        try:
            callback(outcome)
        except Exception:  # the flow's own failure is the error to report
            log.exception("a failure callback of %s raised", flow.name)
