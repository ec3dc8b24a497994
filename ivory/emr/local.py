"""``--runner emr-local``: the same job flow, run on this machine (D4.4).

:class:`LocalEmr` has the methods of :class:`ivory.emr.client.EmrClient` that a flow uses, and
executes a ``RunJobFlow`` request's steps itself, in order, when it is started:

* ``s3-dist-cp --src S --dest D [--srcPrefixesFile F]`` copies with ``pyarrow.fs`` (S3 through
  pyarrow's S3 filesystem with the standard AWS settings, ``AWS_ENDPOINT_URL`` included; a
  local directory stands in for HDFS);
* ``spark-submit ... jobs/<job>.py --plan P --result R`` reads the plan from where the flow
  put it, runs the job module on local Spark through a :class:`ivory.runner.LocalRunner` (in
  this process) and writes the result where the flow reads it.

A failing step is ``FAILED`` with its error as the reason, the following steps ``CANCELLED``
and the cluster ``TERMINATED_WITH_ERRORS``, as ``ActionOnFailure: TERMINATE_CLUSTER`` does on
EMR; bootstrap actions do not run. :func:`emr_local_runner` builds an
:class:`ivory.emr.launch.EmrRunner` on it: what passes here is the flow EMR would run, with
``file://`` staging instead of ``hdfs://`` and ``s3a://`` (what local Spark reads) instead of
EMRFS's ``s3://``.
"""

from __future__ import annotations

import itertools
import json
import os
import posixpath
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivory.emr.client import ACTIVE_STATES, wait_for_flow
from ivory.emr.flow import FlowStatus
from ivory.emr.profile import EmrProfile
from ivory.errors import UsageError
from ivory.storage import Storage, open_storage

_IDS = itertools.count(1)


def filesystem(uri: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, path)`` of a ``file://``, ``s3://`` or ``s3a://`` URI; S3 with
    the standard AWS settings (region, ``AWS_ENDPOINT_URL`` with its scheme)."""
    from pyarrow import fs

    scheme, _, rest = uri.partition("://")
    if scheme == "file":
        return fs.LocalFileSystem(), "/" + rest.lstrip("/")
    if scheme in ("s3", "s3a", "s3n"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        options: dict[str, Any] = {
            "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"}
        if endpoint:
            scheme_of, _, host = endpoint.partition("://")
            options.update(endpoint_override=host, scheme=scheme_of,
                           force_virtual_addressing=False)
        return fs.S3FileSystem(**options), rest
    raise UsageError(f"emr-local copies only file://, s3:// and s3a:// locations, not {uri}")


def _files_under(filesystem_: Any, path: str) -> list[str]:
    from pyarrow import fs

    info = filesystem_.get_file_info(path)
    if info.type == fs.FileType.File:
        return [path]
    if info.type == fs.FileType.NotFound:
        return []
    selector = fs.FileSelector(path, recursive=True, allow_not_found=True)
    return sorted(i.path for i in filesystem_.get_file_info(selector)
                  if i.type == fs.FileType.File)


def dist_cp(args: Sequence[str]) -> int:
    """Run ``s3-dist-cp`` arguments with pyarrow.fs; return the files copied.

    Destination paths are the sources' paths relative to ``--src`` under ``--dest``; with
    ``--srcPrefixesFile`` only the objects under the listed prefixes are copied.

    Raises:
        UsageError: unknown arguments; OSError / pyarrow errors from the copies.
    """
    from pyarrow import fs

    options = dict(zip(args[1::2], args[2::2], strict=False))
    unknown = set(options) - {"--src", "--dest", "--srcPrefixesFile"}
    if args[0] != "s3-dist-cp" or unknown or "--src" not in options or "--dest" not in options:
        raise UsageError(f"emr-local cannot run the copy {' '.join(args)}")
    src_fs, src = filesystem(options["--src"])
    dest_fs, dest = filesystem(options["--dest"])
    if "--srcPrefixesFile" in options:
        list_fs, list_path = filesystem(options["--srcPrefixesFile"])
        with list_fs.open_input_stream(list_path) as handle:
            prefixes = [line for line in handle.read().decode("utf-8").splitlines() if line]
        sources = [p for prefix in prefixes for p in _files_under(src_fs, filesystem(prefix)[1])]
    else:
        sources = _files_under(src_fs, src)
    root = src.rstrip("/") + "/"
    for path in sources:
        if not path.startswith(root):
            raise UsageError(f"emr-local: {path} is not under --src {options['--src']}")
        target = f"{dest.rstrip('/')}/{path[len(root):]}"
        dest_fs.create_dir(posixpath.dirname(target), recursive=True)
        fs.copy_files(path, target, source_filesystem=src_fs, destination_filesystem=dest_fs)
    return len(sources)


def _read_uri(uri: str) -> bytes:
    parent, _, name = uri.rpartition("/")
    return open_storage(parent).read(name)


def _write_uri(uri: str, data: bytes) -> None:
    parent, _, name = uri.rpartition("/")
    open_storage(parent).write(name, data)


class LocalEmr:
    """A stand-in for EMR that runs a flow's steps on this machine (see the module docstring).

    Args:
        runner: runs job plans (a :class:`ivory.runner.LocalRunner`, on the shared session in
            tests).
    """

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.clusters: dict[str, dict[str, Any]] = {}
        self.steps: dict[str, list[dict[str, Any]]] = {}

    def spark_submit(self, args: Sequence[str]) -> None:
        """Run a ``spark-submit`` step's job in process."""
        entry = next((a for a in args if a.endswith(".py")), None)
        if entry is None or "--plan" not in args:
            raise UsageError(f"emr-local cannot run {' '.join(args)}")
        job = posixpath.basename(entry)[: -len(".py")]
        plan = json.loads(_read_uri(args[args.index("--plan") + 1]))
        if plan.get("job") != job:
            raise UsageError(f"the plan is for the {plan.get('job')} job, not {job}")
        result = self.runner.run(plan)
        if "--result" in args:
            _write_uri(args[args.index("--result") + 1], json.dumps(result).encode("utf-8"))

    def run_step(self, args: Sequence[str]) -> None:
        if args and args[0] == "s3-dist-cp":
            dist_cp(args)
        elif args and args[0] == "spark-submit":
            self.spark_submit(args)
        else:
            raise UsageError(f"emr-local cannot run the step {' '.join(args)}")

    def start(self, request: Mapping[str, Any]) -> str:
        """Run every step of a ``RunJobFlow`` request now; return a cluster id."""
        cluster_id = f"j-LOCAL{next(_IDS):06d}"
        steps = []
        failed = False
        for n, step in enumerate(request["Steps"]):
            record: dict[str, Any] = {"Id": f"s-LOCAL{n:04d}", "Name": step["Name"],
                                      "Status": {"State": "CANCELLED" if failed else "PENDING"}}
            steps.append(record)
            if failed:
                continue
            try:
                self.run_step(step["HadoopJarStep"]["Args"])
                record["Status"] = {"State": "COMPLETED"}
            except Exception as e:
                failed = True
                message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                record["Status"] = {"State": "FAILED", "FailureDetails": {
                    "Reason": type(e).__name__, "Message": message}}
        self.steps[cluster_id] = list(reversed(steps))  # ListSteps: newest first
        state = "TERMINATED_WITH_ERRORS" if failed else "TERMINATED"
        code = "STEP_FAILURE" if failed else "ALL_STEPS_COMPLETED"
        self.clusters[cluster_id] = {
            "Id": cluster_id, "Name": request["Name"], "Tags": list(request.get("Tags", [])),
            "Status": {"State": state, "StateChangeReason": {"Code": code}}}
        return cluster_id

    def describe(self, cluster_id: str) -> dict[str, Any]:
        return dict(self.clusters[cluster_id])

    def list_steps(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self.steps[cluster_id])

    def list_active(self) -> list[dict[str, Any]]:
        return [c for c in self.clusters.values() if c["Status"]["State"] in ACTIVE_STATES]

    def terminate(self, cluster_id: str) -> None:
        """Nothing runs in the background here: a no-op."""

    def wait(self, cluster_id: str, expected_steps: int,
             on_status: Callable[[FlowStatus], None] | None = None) -> FlowStatus:
        return wait_for_flow(self, cluster_id, expected_steps, 0.0, time.sleep, on_status)


def emr_local_runner(data: Storage, profile: EmrProfile, runner: Any, *,
                     staging_dir: str | None = None, **options: Any) -> Any:
    """An :class:`ivory.emr.launch.EmrRunner` whose flows run on :class:`LocalEmr` with
    ``runner``; the HDFS stand-in is ``staging_dir`` (default: a new temporary directory).

    Raises:
        UsageError: the repository's data is not on S3.
    """
    from ivory.emr.launch import EmrRunner
    from ivory.emr.staging import check_cluster_uri

    check_cluster_uri(data.uri())
    root = staging_dir or tempfile.mkdtemp(prefix="ivory-emr-local-")
    emr_runner = EmrRunner(data, profile, emr=LocalEmr(runner),
                           cluster_root="file://" + os.path.abspath(root),
                           to_cluster=lambda uri: uri, upload_bootstrap_script=False, **options)
    emr_runner.name = "emr-local"
    return emr_runner
