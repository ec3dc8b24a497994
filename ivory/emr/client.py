"""The thin boto3 layer over EMR (style item 11, design D4.3): create a cluster, add steps,
describe, list, terminate, and wait for a flow. Four API calls run a job
(``RunJobFlow``, then ``DescribeCluster`` and ``ListSteps`` per poll, ``TerminateJobFlows``
only when asked).

Every call goes through :meth:`EmrClient.call`, which retries what is safe to retry with
exponential backoff: throttling (``ThrottlingException`` and kin: the request was not
executed) for every call, and a lost connection (``EndpointConnectionError`` and kin) for
calls that do not create anything. After ``max_attempts`` it gives up with an
:class:`EmrConnectionError` that names the operation, the cluster and what to do next.

No client is made at import time; :func:`make_emr_client` builds one from the standard AWS
chain (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for a local server).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ivory.emr.flow import FlowStatus, decide_flow
from ivory.emr.types import ClusterState
from ivory.errors import JobError

#: Error codes meaning "slow down": the request was not executed, retrying is always safe.
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "ThrottledException",
                              "RequestLimitExceeded", "TooManyRequestsException"})
#: Tag keys that mark a cluster as ivory's (D4.3: EMR tags are the record).
REPOSITORY_TAG = "ivory:repository"
COMMAND_TAG = "ivory:command"
#: Cluster states of ``ivory emr list``.
ACTIVE_STATES = (ClusterState.STARTING, ClusterState.BOOTSTRAPPING, ClusterState.RUNNING,
                 ClusterState.WAITING, ClusterState.TERMINATING)


class EmrError(JobError):
    """An EMR request failed, or a flow on EMR failed.

    Attributes:
        cluster_id: the cluster (``j-...``) when known.
        step: the failed step's name when one failed.
        state: the last cluster state seen, when known.
    """

    def __init__(self, message: str, cluster_id: str | None = None, step: str | None = None,
                 state: str | None = None) -> None:
        super().__init__(message)
        self.cluster_id = cluster_id
        self.step = step
        self.state = state


class EmrConnectionError(EmrError):
    """EMR could not be reached after every retry."""


class EmrApi(Protocol):
    """What :func:`wait_for_flow` needs: :class:`EmrClient` and
    :class:`ivory.emr.local.LocalEmr` both have it."""

    def describe(self, cluster_id: str) -> dict[str, Any]: ...

    def list_steps(self, cluster_id: str) -> list[dict[str, Any]]: ...


def make_emr_client(region: str | None = None) -> Any:
    """A boto3 EMR client from the standard AWS chain; ``region`` unless ``$AWS_REGION``
    is set (botocore's own retries: ``standard`` mode)."""
    import os

    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or region
    return boto3.session.Session().client(
        "emr", region_name=region,
        config=Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=60))


def _connection_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    return (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError,
            ReadTimeoutError)


class EmrClient:
    """EMR through a boto3 client, with retries and a polling wait.

    Args:
        client: a boto3 ``emr`` client (or a botocore-stubbed one in tests).
        poll_interval_secs: seconds between two polls of a running flow (tests use 0).
        max_attempts: attempts per call before giving up (the first one included).
        backoff_base_secs: the first retry waits this long, each next one twice as long, up
            to ``backoff_cap_secs``.
        sleep: ``time.sleep`` (tests record the waits instead).
    """

    def __init__(self, client: Any, *, poll_interval_secs: float = 30.0, max_attempts: int = 6,
                 backoff_base_secs: float = 1.0, backoff_cap_secs: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.poll_interval_secs = poll_interval_secs
        self.max_attempts = max_attempts
        self.backoff_base_secs = backoff_base_secs
        self.backoff_cap_secs = backoff_cap_secs
        self.sleep = sleep

    def backoff_secs(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.backoff_cap_secs, self.backoff_base_secs * 2 ** (attempt - 1))

    def call(self, operation: str, *, idempotent: bool = True, cluster_id: str | None = None,
             **params: Any) -> dict[str, Any]:
        """``client.<operation>(**params)`` with retries (see the module docstring).

        Raises:
            EmrConnectionError: EMR unreachable after ``max_attempts`` attempts.
            EmrError: EMR refused the request (the code and message are named), or throttled
                it every time.
        """
        from botocore.exceptions import ClientError

        where = f" for cluster {cluster_id}" if cluster_id else ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return getattr(self.client, operation)(**params)  # type: ignore[no-any-return]
            except ClientError as e:
                error = e.response.get("Error", {})
                code = str(error.get("Code", "?"))
                if code in THROTTLING_CODES and attempt < self.max_attempts:
                    self.sleep(self.backoff_secs(attempt))
                    continue
                raise EmrError(f"EMR {operation}{where} failed: {code}: "
                               f"{error.get('Message', '')}".rstrip(": "),
                               cluster_id) from None
            except _connection_errors() as e:
                if idempotent and attempt < self.max_attempts:
                    self.sleep(self.backoff_secs(attempt))
                    continue
                tried = f"after {attempt} attempts" if attempt > 1 else "(not retried: it " \
                        "could create a second cluster)"
                hint = (f"; the cluster may still be running: ivory emr status {cluster_id}, "
                        f"ivory emr terminate {cluster_id}" if cluster_id else "")
                raise EmrConnectionError(
                    f"lost the connection to EMR during {operation}{where} {tried}: {e}{hint}",
                    cluster_id) from None
        raise AssertionError("unreachable")

    # -- the API calls -----------------------------------------------------------------------

    def start(self, request: Mapping[str, Any]) -> str:
        """``RunJobFlow``; returns the cluster id (``j-...``)."""
        return str(self.call("run_job_flow", idempotent=False, **request)["JobFlowId"])

    def add_steps(self, cluster_id: str, steps: Sequence[Mapping[str, Any]]) -> list[str]:
        """``AddJobFlowSteps``; returns the step ids."""
        answer = self.call("add_job_flow_steps", idempotent=False, cluster_id=cluster_id,
                           JobFlowId=cluster_id, Steps=list(steps))
        return list(answer["StepIds"])

    def describe(self, cluster_id: str) -> dict[str, Any]:
        """``DescribeCluster``'s ``Cluster``."""
        answer = self.call("describe_cluster", cluster_id=cluster_id, ClusterId=cluster_id)
        return dict(answer["Cluster"])

    def list_steps(self, cluster_id: str) -> list[dict[str, Any]]:
        """Every step of the cluster (``ListSteps``, all pages), newest first as EMR lists."""
        steps: list[dict[str, Any]] = []
        params: dict[str, Any] = {"ClusterId": cluster_id}
        while True:
            answer = self.call("list_steps", cluster_id=cluster_id, **params)
            steps += answer.get("Steps", [])
            if not answer.get("Marker"):
                return steps
            params["Marker"] = answer["Marker"]

    def list_active(self) -> list[dict[str, Any]]:
        """Active clusters that carry the ``ivory:repository`` tag, each as
        ``DescribeCluster``'s ``Cluster`` (``ListClusters`` has no tags)."""
        out = []
        params: dict[str, Any] = {"ClusterStates": [str(s) for s in ACTIVE_STATES]}
        while True:
            answer = self.call("list_clusters", **params)
            for summary in answer.get("Clusters", []):
                cluster = self.describe(summary["Id"])
                if any(t.get("Key") == REPOSITORY_TAG for t in cluster.get("Tags", [])):
                    out.append(cluster)
            if not answer.get("Marker"):
                return out
            params["Marker"] = answer["Marker"]

    def terminate(self, cluster_id: str) -> None:
        """``TerminateJobFlows`` (idempotent)."""
        self.call("terminate_job_flows", cluster_id=cluster_id, JobFlowIds=[cluster_id])

    def wait(self, cluster_id: str, expected_steps: int,
             on_status: Callable[[FlowStatus], None] | None = None) -> FlowStatus:
        """Poll every ``poll_interval_secs`` until the flow is final."""
        return wait_for_flow(self, cluster_id, expected_steps, self.poll_interval_secs,
                             self.sleep, on_status)


def wait_for_flow(api: EmrApi, cluster_id: str, expected_steps: int,
                  poll_interval_secs: float, sleep: Callable[[float], None] = time.sleep,
                  on_status: Callable[[FlowStatus], None] | None = None) -> FlowStatus:
    """Describe the cluster and list its steps until :func:`ivory.emr.flow.decide_flow` says
    the flow succeeded or failed; ``on_status`` sees every poll's status.

    Raises:
        EmrConnectionError: EMR could not be reached (after the client's retries).
    """
    while True:
        status = decide_flow(api.describe(cluster_id), api.list_steps(cluster_id),
                             expected_steps)
        if on_status is not None:
            on_status(status)
        if status.done:
            return status
        sleep(poll_interval_secs)


def tags_of(cluster: Mapping[str, Any]) -> dict[str, str]:
    """A cluster's tags as a dict."""
    return {t["Key"]: t.get("Value", "") for t in cluster.get("Tags", [])}
