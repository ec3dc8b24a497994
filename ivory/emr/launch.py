"""Driver glue of a job on EMR (D4.2, D4.3): the :class:`EmrRunner`.

An :class:`EmrRunner` has the local runner's interface, ``run(plan) -> result``, so the ingest,
snapshot and chord drivers use it unchanged: they plan, call ``run``, then verify the files the
job reported, write the manifest and commit. ``run``:

1. rewrites the plan for the cluster (:func:`ivory.emr.staging.build_staged_plan`) and
   uploads it, with the lists of planned inputs, under the run's prefix
   ``<data>/_ivory/emr/runs/<run-id>/``;
2. uploads the package zip and the ``jobs/*.py`` entry points once, content-addressed, with an
   MD5 check (:func:`upload_once`), and the bootstrap script;
3. starts an auto-terminating cluster whose steps copy the inputs in, spark-submit the job and
   copy its outputs to the run's staging prefix, then waits for it (:mod:`ivory.emr.client`);
4. on success reads the job's ``result.json``, checks every staged file the job listed (size
   and MD5) and copies the outputs to their final place, then returns the result (with the
   original URIs) to the driver, which verifies again and commits;
5. on failure (or when anything in 4 fails) runs the flow's failure callbacks, deletes the
   staged outputs and raises :class:`ivory.emr.client.EmrError`: the driver commits nothing
   and no published location received a file.

``plan.json`` and ``result.json`` stay under the run prefix as the run's record.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ivory.emr.bootstrap import BOOTSTRAP_SCRIPT
from ivory.emr.client import EmrClient, EmrError, make_emr_client
from ivory.emr.flow import (
    Callback,
    FlowOutcome,
    FlowState,
    FlowStatus,
    JobFlow,
    run_callbacks,
)
from ivory.emr.profile import EmrProfile
from ivory.emr.requests import HDFS_STAGING_ROOT, build_run_job_flow, build_steps, emr_uri
from ivory.emr.staging import (
    CLUSTER_SCHEMES,
    LISTED,
    StagedOutput,
    StagedPlan,
    build_staged_plan,
    map_result_back,
)
from ivory.errors import IvoryError, JobError, KeyNotFoundError, UsageError
from ivory.storage import S3Storage, Storage, open_storage

log = logging.getLogger(__name__)

#: Under the repository's data location: packages, plans and results of EMR runs.
EMR_PREFIX = "_ivory/emr"
#: ``jobs/`` at the root of the source tree: the spark-submit entry points.
JOBS_DIR = Path(__file__).resolve().parents[2] / "jobs"


class DryRunDone(IvoryError):
    """Raised by a dry-run :class:`EmrRunner` after printing the request: nothing ran."""


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def upload_once(storage: Storage, key: str, data: bytes) -> bool:
    """Put ``data`` at ``key`` unless the same bytes are there already (D5.3).

    On S3: ``HeadObject`` first; the object is reused when its ``md5`` metadata (or, for a
    single-part upload, its ETag) equals the MD5 of ``data``; otherwise one ``PutObject`` with
    ``Content-MD5`` (S3 rejects a body that arrives changed) and the ETag checked. Elsewhere
    the stored bytes are compared and re-read after writing.

    Returns:
        True when uploaded, False when reused.

    Raises:
        JobError: the stored object does not match after the upload.
    """
    md5 = _md5(data)
    if isinstance(storage, S3Storage):
        client, bucket, full = storage.client, storage.bucket, storage.prefix + key
        from botocore.exceptions import ClientError

        try:
            head = client.head_object(Bucket=bucket, Key=full)
            stored = head.get("Metadata", {}).get("md5") or head.get("ETag", "").strip('"')
            if stored == md5:
                return False
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise JobError(f"cannot check {storage.uri(key)}: {e}") from None
        answer = client.put_object(
            Bucket=bucket, Key=full, Body=data, Metadata={"md5": md5},
            ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"), **storage._sse())
        etag = answer.get("ETag", "").strip('"')
        if storage.sse in (None, "AES256") and etag and etag != md5:
            raise JobError(f"{storage.uri(key)} was stored with ETag {etag}, not the MD5 {md5} "
                           "of what was sent")
        return True
    try:
        if _md5(storage.read(key)) == md5:
            return False
    except KeyNotFoundError:
        pass
    storage.write(key, data)
    if _md5(storage.read(key)) != md5:
        raise JobError(f"{storage.uri(key)} does not hold what was written")
    return True


def upload_package(data_storage: Storage) -> str:
    """Upload the package zip and the entry points ``jobs/*.py`` beside it (once per content);
    return the zip's URI."""
    from ivory.package import package_bytes, package_name

    zipped = package_bytes()
    name = package_name(zipped)
    packages = data_storage.child(f"{EMR_PREFIX}/packages")
    upload_once(packages, name, zipped)
    for entry in sorted(JOBS_DIR.glob("*.py")):
        upload_once(packages, f"{name[: -len('.zip')]}/jobs/{entry.name}", entry.read_bytes())
    return packages.uri(name)


def upload_bootstrap(profile: EmrProfile) -> None:
    """Upload :data:`ivory.emr.bootstrap.BOOTSTRAP_SCRIPT` to the profile's ``bootstrap_uri``
    (when set), once per content."""
    if not profile.bootstrap_uri:
        return
    parent, _, name = profile.bootstrap_uri.rpartition("/")
    upload_once(open_storage(parent), name, BOOTSTRAP_SCRIPT.read_bytes())


def default_package_uri(data_storage: Storage) -> str:
    """Where :func:`upload_package` puts the package of these sources (nothing uploaded)."""
    from ivory.package import package_bytes, package_name

    return data_storage.uri(f"{EMR_PREFIX}/packages/{package_name(package_bytes())}")


def new_run_id(job: str) -> str:
    """``<job>-<yyyymmddTHHMMSSZ>-<6 hex>``: unique per run, sorted by start time."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{job}-{now}-{secrets.token_hex(3)}"


def check_staged(storage: Storage, files: Sequence[Mapping[str, Any]]) -> None:
    """Check every file the job listed is staged with its size and MD5 (D5.3): the ETag when it
    is a plain MD5 (single-part upload without KMS), else the bytes are read and hashed.

    Raises:
        JobError: a file is missing, or has another size or MD5; names it.
    """
    from ivory.verify import file_md5

    for f in files:
        key = f["path"]
        if not storage.exists(key):
            raise JobError(f"the job listed {key} but it is not in {storage.uri()}")
        size = storage.size(key)
        if size != f["size"]:
            raise JobError(f"{storage.uri(key)} is {size} bytes, the job wrote {f['size']}")
        md5 = None
        if isinstance(storage, S3Storage):
            etag = storage.client.head_object(
                Bucket=storage.bucket, Key=storage.prefix + key).get("ETag", "").strip('"')
            md5 = etag if len(etag) == 32 and "-" not in etag else None
        if md5 is None:
            md5 = file_md5(storage, key)[0]
        if md5 != f["md5"].lower():
            raise JobError(f"{storage.uri(key)} has MD5 {md5}, the job wrote {f['md5']}")


def _copy(source: Storage, key: str, target: Storage) -> None:
    if isinstance(source, S3Storage) and isinstance(target, S3Storage):
        target.client.copy({"Bucket": source.bucket, "Key": source.prefix + key},
                           target.bucket, target.prefix + key, ExtraArgs=target._sse() or None)
        return
    with source.open_read(key) as handle:
        data = handle.read()
    target.write(key, data)


def publish_outputs(outputs: Sequence[StagedOutput], result: Mapping[str, Any]) -> int:
    """Check every staged output, then copy each to its final place; return the files copied.

    A :data:`LISTED` output publishes exactly the files of ``result["files"]``, each checked
    first by :func:`check_staged`; other outputs every visible file (not ``.``/``_``-prefixed).
    Nothing is copied unless every check passed.
    """
    from ivory.planning import is_hidden

    plans = []
    for output in outputs:
        staged = open_storage(output.staging)
        if output.role == LISTED:
            check_staged(staged, result.get("files", []))
            keys = [f["path"] for f in result.get("files", [])]
        else:
            keys = [e.key for e in staged.list("", None) if not is_hidden(e.key)]
        plans.append((staged, open_storage(output.final), keys))
    for staged, final, keys in plans:
        for key in keys:
            _copy(staged, key, final)
    return sum(len(keys) for _, _, keys in plans)


class EmrRunner:
    """Run plans as job flows on ephemeral EMR clusters (``--runner emr``).

    Args:
        data: the repository's data storage (on S3: the run prefix and package go there).
        profile: the cluster's profile (:mod:`ivory.emr.profile`).
        emr: the EMR API (:class:`ivory.emr.client.EmrClient`); default: one on
            :func:`ivory.emr.client.make_emr_client` in the profile's region.
        command: the command line, for the ``ivory:command`` tag.
        repository: the repository location, for the ``ivory:repository`` tag.
        dry_run: print the ``RunJobFlow`` request as JSON on ``out`` and raise
            :class:`DryRunDone` instead of uploading or calling anything.
        on_success / on_failure: callbacks added to every flow (see :class:`JobFlow`).
        cluster_root: the cluster's staging directory (``hdfs:///ivory/staging``).
        to_cluster: how the cluster names S3 URIs (``s3a://`` -> EMRFS ``s3://``).
        schemes: URI schemes the cluster reads (tests add ``memory``).
        upload_bootstrap_script: upload the profile's bootstrap script before starting.
        out: where progress lines and the dry-run request go (progress: stderr).
    """

    name = "emr"

    def __init__(self, data: Storage, profile: EmrProfile, *, emr: Any = None,
                 command: str = "", repository: str | None = None, dry_run: bool = False,
                 on_success: Sequence[Callback] = (), on_failure: Sequence[Callback] = (),
                 cluster_root: str = HDFS_STAGING_ROOT,
                 to_cluster: Callable[[str], str] = emr_uri,
                 schemes: Sequence[str] = CLUSTER_SCHEMES,
                 upload_bootstrap_script: bool = True,
                 run_id: Callable[[str], str] = new_run_id,
                 out: TextIO | None = None) -> None:
        self.data = data
        self.profile = profile
        self._emr = emr
        self.command = command
        self.repository = repository or data.uri()
        self.dry_run = dry_run
        self.on_success = tuple(on_success)
        self.on_failure = tuple(on_failure)
        self.cluster_root = cluster_root
        self.to_cluster = to_cluster
        self.schemes = tuple(schemes)
        self.upload_bootstrap_script = upload_bootstrap_script
        self.run_id = run_id
        self.out = out
        self.flows: list[tuple[JobFlow, FlowOutcome | None]] = []

    @property
    def emr(self) -> Any:
        if self._emr is None:
            self._emr = EmrClient(make_emr_client(self.profile.region))
        return self._emr

    def _say(self, text: str) -> None:
        print(text, file=self.out or sys.stderr, flush=True)

    def build_flow(self, plan: Mapping[str, Any], run_id: str, package_uri: str
                   ) -> tuple[JobFlow, StagedPlan, dict[str, Any]]:
        """The flow, the staged plan and the ``RunJobFlow`` request of ``plan`` (pure)."""
        job = str(plan.get("job"))
        run_uri = self.data.uri(f"{EMR_PREFIX}/runs/{run_id}")
        staged = build_staged_plan(plan, self.profile.staging, f"{self.cluster_root}/{run_id}",
                                   run_uri, self.to_cluster, self.schemes)
        plan_uri = f"{run_uri}/plan.json"
        steps = build_steps(job, self.to_cluster(plan_uri), self.to_cluster(package_uri),
                            self.profile, staged.copies_in, staged.copies_out)
        name = f"ivory {job} {run_id}"
        request = build_run_job_flow(name, steps, self.profile, emr_uri(self.repository),
                                     self.command or f"ivory {job}")
        flow = JobFlow(name, job, tuple(steps), {
            "run_uri": run_uri, "plan_uri": plan_uri, "result_uri": f"{run_uri}/result.json",
            "package_uri": package_uri, "repository": self.repository,
            "command": self.command}, self.on_success, self.on_failure)
        return flow, staged, request

    def run(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Run ``plan`` as a job flow and return the job's result (with the plan's original
        URIs), its outputs verified and copied to their final place.

        Raises:
            DryRunDone: with ``dry_run``, after printing the request.
            UsageError: no entry point for the job, or a location the cluster cannot reach.
            EmrError: the flow failed (the cluster, step and reason are named) or its output
                did not verify; the failure callbacks ran and nothing was published.
        """
        job = str(plan.get("job"))
        if not (JOBS_DIR / f"{job}.py").is_file():
            raise UsageError(f"no entry point jobs/{job}.py for the {job} job")
        plan = json.loads(json.dumps(plan))
        run_id = self.run_id(job)
        if self.dry_run:
            _, _, request = self.build_flow(plan, run_id, default_package_uri(self.data))
            print(json.dumps(request, sort_keys=True, indent=2), file=self.out or sys.stdout)
            raise DryRunDone(f"dry run: printed the RunJobFlow request of the {job} job")
        package_uri = upload_package(self.data)
        if self.upload_bootstrap_script:
            upload_bootstrap(self.profile)
        flow, staged, request = self.build_flow(plan, run_id, package_uri)
        run = self.data.child(f"{EMR_PREFIX}/runs/{run_id}")
        for copy in staged.copies_in:
            if copy.prefixes_uri:
                run.write(copy.prefixes_uri.rpartition("/")[2],
                          ("\n".join(copy.prefixes) + "\n").encode("utf-8"))
        run.write("plan.json", json.dumps(staged.plan, indent=1).encode("utf-8"))
        cluster_id = self.emr.start(request)
        self._say(f"EMR cluster {cluster_id} started for {flow.name} "
                  f"({len(flow.steps)} steps)")
        outcome: FlowOutcome | None = None
        try:
            last: list[str] = []

            def show(status: FlowStatus) -> None:
                line = status.progress()
                if not last or last[-1] != line:
                    last.append(line)
                    self._say(f"EMR cluster {cluster_id}: {line}")

            status = self.emr.wait(cluster_id, len(flow.steps), show)
            outcome = FlowOutcome(cluster_id, status)
            if not outcome.succeeded:
                where = f" (log: {status.log_file})" if status.log_file else ""
                raise EmrError(f"the {job} job flow on EMR cluster {cluster_id} failed: "
                               f"{status.reason}{where}; nothing was committed",
                               cluster_id, status.failed_step, status.cluster_state)
            try:
                result = json.loads(run.read("result.json"))
            except KeyNotFoundError:
                raise EmrError(f"the {job} job on EMR cluster {cluster_id} wrote no result at "
                               f"{run.uri('result.json')}", cluster_id) from None
            publish_outputs(staged.outputs, result)
            run_callbacks(flow, outcome)
        except BaseException as e:
            base = outcome.status if outcome is not None else FlowStatus(FlowState.FAILED, "?")
            failed = FlowOutcome(cluster_id, _failed(base, str(e) or type(e).__name__))
            if isinstance(e, KeyboardInterrupt):
                self._terminate(cluster_id)
            self.flows.append((flow, failed))
            run_callbacks(flow, failed)
            self._cleanup(run, staged)
            if isinstance(e, IvoryError):
                raise
            if isinstance(e, Exception):
                raise EmrError(f"the {job} job flow on EMR cluster {cluster_id} failed: {e}",
                               cluster_id) from e
            raise
        self.flows.append((flow, outcome))
        self._cleanup(run, staged)
        return map_result_back(result, staged.final_of)

    def _terminate(self, cluster_id: str) -> None:
        try:
            self.emr.terminate(cluster_id)
            self._say(f"EMR cluster {cluster_id}: terminated")
        except Exception as e:  # interrupted: report, do not mask the interruption
            self._say(f"EMR cluster {cluster_id} may still run ({e}): "
                      f"ivory emr terminate {cluster_id}")

    @staticmethod
    def _cleanup(run: Storage, staged: StagedPlan) -> None:
        """Delete the staged outputs and input lists of a run (best effort: logged)."""
        try:
            run.delete_prefix("out/")
            for copy in staged.copies_in:
                if copy.prefixes_uri:
                    run.delete(copy.prefixes_uri.rpartition("/")[2])
        except IvoryError as e:
            log.warning("could not clean up %s: %s", run.uri(), e)


def _failed(status: FlowStatus, reason: str) -> FlowStatus:
    """``status`` as a failure (a succeeded flow whose output did not verify fails too)."""
    return FlowStatus(FlowState.FAILED, status.cluster_state, status.steps, status.failed_step,
                      status.reason or reason, status.log_file)
