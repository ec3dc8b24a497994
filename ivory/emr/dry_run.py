"""``--runner emr --dry-run``: plan a job exactly as the local runner would, then build the
``RunJobFlow`` request that would run it on EMR instead of running it. Nothing is written to
the repository (no snapshot id is allocated) and nothing calls AWS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ivory.emr.profile import EmrProfile
from ivory.emr.requests import build_run_job_flow, build_steps, emr_uri
from ivory.errors import UsageError
from ivory.identifiers import is_identifier, next_identifier
from ivory.planning import OutputSpec
from ivory.repository import Repository

#: Under the repository's data location: packages, plans and results of EMR runs.
EMR_PREFIX = "_ivory/emr"


def _peek_next_id(repository: Repository, kind: str) -> str:
    """The id :meth:`Repository.allocate` would give next, without allocating it."""
    existing = [e.key[len(kind) + 1 : -1] for e in repository.data.list(f"{kind}/", "/")
                if e.is_prefix and is_identifier(e.key[len(kind) + 1 : -1])]
    return next_identifier(existing)


def default_package_uri(repository: Repository) -> str:
    """Where the content-named package zip of these sources would be uploaded."""
    from ivory.package import package_bytes, package_name

    return repository.data.uri(f"{EMR_PREFIX}/packages/{package_name(package_bytes())}")


def snapshot_job(repository: Repository, date: dt.date, outputs: Sequence[OutputSpec],
                 profile: EmrProfile, *, missing: str = "NA", strategy: str = "pessimistic",
                 package_uri: str | None = None, command: str | None = None
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plan, RunJobFlow request)`` of a snapshot at ``date``, planned as
    :func:`ivory.snapshot.snapshot` plans it."""
    from ivory.snapshot import build_snapshot_plan, check_outputs_absent, plan_snapshot

    if not repository.data.uri("").startswith(("s3://", "s3a://")):
        raise UsageError(f"repository {repository.location} keeps its data outside S3: an EMR "
                         "cluster cannot read it (create it on s3://bucket/prefix)")
    check_outputs_absent(outputs)
    state = repository.state()
    dictionary = repository.dictionary(state)
    reuse, partial = plan_snapshot(repository, state, date, strategy)
    snapshot_id = reuse.snapshot_id if reuse else _peek_next_id(repository, "snapshots")
    plan = build_snapshot_plan(repository, dictionary, date, snapshot_id, reuse, partial,
                               outputs, missing)
    data = repository.data
    inputs = [data.uri(f"factsets/{s['factset']}") for s in partial.get("inputs", [])]
    if partial.get("previous"):
        inputs.append(data.uri(f"snapshots/{partial['previous']['snapshot_id']}"))
    written = ([plan["output"]] if plan["compute"] else []) + [
        e["path"] for e in plan["extracts"]]
    plan_uri = data.uri(f"{EMR_PREFIX}/runs/snapshot-{snapshot_id}/plan.json")
    steps = build_steps("snapshot", plan_uri, package_uri or default_package_uri(repository),
                        inputs, written, profile)
    location = emr_uri(repository.location)
    command = command or f"ivory snapshot -d {date.isoformat()}"
    request = build_run_job_flow(f"ivory snapshot {snapshot_id} {date.isoformat()}", steps,
                                 profile, location, command)
    return plan, request


def snapshot_request(repository: Repository, date: dt.date, outputs: Sequence[OutputSpec],
                     profile: EmrProfile, **options: Any) -> dict[str, Any]:
    """The ``RunJobFlow`` request of :func:`snapshot_job`."""
    return snapshot_job(repository, date, outputs, profile, **options)[1]
