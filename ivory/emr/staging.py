"""Where a job's inputs and outputs live while it runs on a cluster (D4.2): pure plan rewriting.

A plan from the drivers names the repository's own URIs (``s3a://bucket/repo/factsets/...``).
On a cluster the job must instead

* read its inputs from the cluster's copies (``staging: hdfs``: an ``s3-dist-cp`` step copies
  exactly the planned files S3 -> HDFS first, through ``--srcPrefixesFile``) or from S3
  itself (``staging: s3-direct``), and
* write every output into a *staging* location, never into the published one: on HDFS, copied
  afterwards to the run's S3 staging prefix (``<run>/out/<n>``), or straight into that prefix.

The driver then verifies the staged files against the job's result (sizes, MD5s) and only then
copies them to their final place and commits (:mod:`ivory.emr.launch`). A failed flow leaves
nothing outside the run prefix, so nothing is published.

:func:`build_staged_plan` does the rewriting for the jobs it knows (:data:`JOB_IO`): every
input and output URI of the plan is replaced by its cluster-side URI, wherever it occurs.
Plans of other jobs run unchanged (the job reads and writes S3 itself).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivory.errors import UsageError

#: The role of an output whose files the job lists in its result (``result["files"]``):
#: the driver checks each one's size and MD5 and publishes exactly those files.
LISTED = "listed"
#: An output whose files the job does not list (errors, extracts): every visible file is
#: published.
UNLISTED = "unlisted"

#: The schemes a cluster can read; others (local paths) are rejected with a clear error.
CLUSTER_SCHEMES = ("s3", "s3a", "s3n")


@dataclass(frozen=True)
class Copy:
    """One copy step: ``src`` (a directory URI) to ``dest``; with ``prefixes`` only the
    objects under those URIs are copied, named in the text file at ``prefixes_uri`` (one
    per line, s3-dist-cp's ``--srcPrefixesFile``). Paths under ``dest`` are relative to
    ``src``."""

    src: str
    dest: str
    prefixes: tuple[str, ...] = ()
    prefixes_uri: str | None = None


@dataclass(frozen=True)
class StagedOutput:
    """An output of the job: ``final`` (its URI in the original plan), ``staging`` (the run's
    S3 prefix the cluster's copy lands in) and ``role`` (:data:`LISTED` or
    :data:`UNLISTED`)."""

    final: str
    staging: str
    role: str


@dataclass(frozen=True)
class StagedPlan:
    """A plan rewritten for a cluster, and the copies around it.

    Attributes:
        plan: the plan the job receives (JSON-able).
        copies_in: S3 -> cluster copies, run before the job (empty with ``s3-direct``).
        copies_out: cluster -> S3 staging copies, run after it (empty with ``s3-direct``).
        outputs: every output, in plan order.
        final_of: cluster-side output URI -> the original URI (to map the result back).
    """

    plan: dict[str, Any]
    copies_in: tuple[Copy, ...]
    copies_out: tuple[Copy, ...]
    outputs: tuple[StagedOutput, ...]
    final_of: Mapping[str, str]


def _files(sources: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [f for s in sources or () for f in s["files"]]


def _ingest_io(plan: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    output = plan["output"]
    return _files(plan["inputs"]), [(output["factset"], LISTED), (output["errors"], UNLISTED)]


def _snapshot_io(plan: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    inputs = _files(plan["inputs"]) + _files([plan["previous"]] if plan.get("previous") else [])
    outputs = []
    if plan["compute"]:
        outputs.append((plan["output"], LISTED))
    else:  # a reused snapshot is read, never written
        inputs.append(plan["output"])
    outputs += [(e["path"], UNLISTED) for e in plan.get("extracts", [])]
    return inputs, outputs


def _chord_io(plan: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    inputs = _files(plan["inputs"]) + _files([plan["previous"]] if plan.get("previous") else [])
    if "path" in plan.get("requests", {}):
        inputs.append(plan["requests"]["path"])
    return inputs, [(e["path"], UNLISTED) for e in plan.get("extracts", [])]


#: Job name -> ``plan -> (input URIs, [(output URI, role)])``.
JOB_IO: dict[str, Callable[[Mapping[str, Any]], tuple[list[str], list[tuple[str, str]]]]] = {
    "ingest": _ingest_io,
    "snapshot": _snapshot_io,
    "chord": _chord_io,
}


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3a://bucket/a/b`` -> ``("s3a", "bucket", "a/b")``.

    Raises:
        UsageError: not a ``scheme://bucket/...`` URI.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or not rest or rest.startswith("/"):
        raise UsageError(f"{uri} is not a URI with a bucket (scheme://bucket/key)")
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key.strip("/")


def check_cluster_uri(uri: str, schemes: Sequence[str] = CLUSTER_SCHEMES) -> None:
    """Raise UsageError unless the cluster can reach ``uri`` (an S3 URI)."""
    if uri.partition("://")[0] not in schemes or "://" not in uri:
        raise UsageError(f"{uri} is not on S3: an EMR cluster cannot reach it; keep the "
                         "repository, inputs and outputs on s3://bucket/prefix")


def _replace(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [_replace(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, mapping) for k, v in value.items()}
    return value


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)


def build_staged_plan(plan: Mapping[str, Any], staging: str, cluster_root: str, run_uri: str,
                      to_cluster: Callable[[str], str] = lambda u: u,
                      schemes: Sequence[str] = CLUSTER_SCHEMES) -> StagedPlan:
    """Rewrite ``plan`` for a cluster (see the module docstring).

    Args:
        plan: a driver's plan (``plan["job"]`` names the job).
        staging: ``"hdfs"`` (copy steps around the job) or ``"s3-direct"``.
        cluster_root: the cluster-local directory of this run, e.g.
            ``hdfs:///ivory/staging/<run-id>`` (``file:///tmp/...`` for ``emr-local``);
            inputs are copied to ``<root>/in/<bucket>/<key>``, outputs written to
            ``<root>/out/<n>``.
        run_uri: the run's S3 prefix (as the driver names it, e.g. ``s3a://b/repo/_ivory/
            emr/runs/<run-id>``); outputs are staged at ``<run_uri>/out/<n>``.
        to_cluster: how the cluster names an S3 URI (``s3a://`` -> ``s3://`` on EMR).
        schemes: URI schemes the cluster can read.

    Raises:
        UsageError: an input or output is not on S3.
    """
    io = JOB_IO.get(str(plan.get("job")))
    if io is None:
        return StagedPlan(dict(plan), (), (), (), {})
    inputs, outputs = io(plan)
    for uri in [*inputs, *(o for o, _ in outputs)]:
        check_cluster_uri(uri, schemes)
    mapping: dict[str, str] = {}
    copies_in: list[Copy] = []
    if staging == "hdfs":
        by_bucket: dict[tuple[str, str], list[str]] = {}
        for uri in dict.fromkeys(inputs):
            _, bucket, key = split_uri(uri)
            by_bucket.setdefault((bucket, uri.partition("://")[0]), []).append(key)
            mapping[uri] = _join(cluster_root, "in", bucket, key)
        for n, ((bucket, scheme), keys) in enumerate(sorted(by_bucket.items()), 1):
            common = posixpath.commonpath([posixpath.dirname(k) for k in keys])
            src = to_cluster(_join(f"{scheme}://{bucket}", common))
            copies_in.append(Copy(
                src, _join(cluster_root, "in", bucket, common),
                tuple(to_cluster(f"{scheme}://{bucket}/{k}") for k in sorted(keys)),
                to_cluster(_join(run_uri, f"inputs-{n}.txt"))))
    else:
        mapping.update({uri: to_cluster(uri) for uri in inputs})
    staged: list[StagedOutput] = []
    copies_out: list[Copy] = []
    final_of: dict[str, str] = {}
    for n, (uri, role) in enumerate(outputs):
        staging_uri = _join(run_uri, "out", str(n))
        if staging == "hdfs":
            cluster_uri = _join(cluster_root, "out", str(n))
            copies_out.append(Copy(cluster_uri, to_cluster(staging_uri)))
        else:
            cluster_uri = to_cluster(staging_uri)
        mapping[uri] = cluster_uri
        final_of[cluster_uri] = uri
        staged.append(StagedOutput(uri, staging_uri, role))
    rewritten = _replace(dict(plan), mapping)
    return StagedPlan(rewritten, tuple(copies_in), tuple(copies_out), tuple(staged), final_of)


def map_result_back(result: Mapping[str, Any], final_of: Mapping[str, str]) -> dict[str, Any]:
    """The job's result with cluster-side output URIs replaced by the original ones."""
    return _replace(dict(result), final_of)
