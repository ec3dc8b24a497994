"""Runners execute job plans (D4.1).

:class:`LocalRunner` (the embedded default, D6.3) runs the job module's ``run(spark, plan)``
in this process on a local SparkSession, started on first use and reused by every later job
of the same command (one JVM per command).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ivory.errors import IvoryError, JobError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

JOBS = ("ingest", "snapshot", "chord", "validate")


class LocalRunner:
    """Run plans on local Spark in this process.

    Args:
        spark: an existing session to use (tests pass the shared one); by default a local
            session with :func:`ivory.spark.start_local_session` is started on first use.
        settings: Spark settings that override the defaults.
        show_progress: show a progress bar on a terminal.
    """

    name = "local"

    def __init__(self, spark: SparkSession | None = None,
                 settings: Mapping[str, str] | None = None, show_progress: bool = True) -> None:
        self._spark = spark
        self._settings = dict(settings or {})
        self._show_progress = show_progress
        self._expects_s3a = False
        self.seconds: dict[str, float] = {}

    def expect_locations(self, uris: Sequence[str]) -> None:
        """Tell the runner that later plans of this command read or write ``uris``.

        The local session starts once per process and s3a must be on it from the start; a
        command whose first plan touches no S3 location (chord's seed snapshot) but whose
        later plan does (the chord's outputs on S3) names those locations here first.
        """
        if any(u.startswith(("s3://", "s3a://")) for u in uris):
            self._expects_s3a = True

    @property
    def spark(self) -> SparkSession:
        """The session, started on first use (with s3a when ``$AWS_ENDPOINT_URL`` is set)."""
        return self._session(needs_s3a=bool(os.environ.get("AWS_ENDPOINT_URL")))

    def _session(self, needs_s3a: bool) -> SparkSession:
        needs_s3a = needs_s3a or self._expects_s3a
        if self._spark is None:
            from ivory.spark import start_local_session

            settings = dict(self._settings)
            if needs_s3a:
                from ivory.s3a import s3a_settings

                settings = {**s3a_settings(), **settings}
            started = time.monotonic()
            self._spark = start_local_session(settings)
            self.seconds["spark start"] = time.monotonic() - started
        return self._spark

    def run(self, plan: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``plan`` and return the job's result.

        Raises:
            JobError: the job failed; the message names the job and the cause.
        """
        job = plan.get("job")
        if job not in JOBS:
            raise JobError(f"unknown job '{job}' in plan")
        module = importlib.import_module(f"ivory.jobs.{job}")
        # A plan must survive JSON: what runs here is what EMR would receive.
        text = json.dumps(plan)
        plan = json.loads(text)
        spark = self._session(needs_s3a="s3a://" in text)
        from ivory.progress import SparkProgress

        started = time.monotonic()
        try:
            with SparkProgress(spark, job, enabled=None if self._show_progress else False):
                result = module.run(spark, plan)
        except IvoryError:
            raise
        except Exception as e:
            raise JobError(f"the {job} job failed: {_short(e)}") from e
        self.seconds[job] = self.seconds.get(job, 0.0) + time.monotonic() - started
        return result


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


#: ``--runner`` choices (D4.1, D4.4).
RUNNERS = ("local", "emr", "emr-local")


def make_runner(kind: str, data: Any = None, *, profile: str = "default",
                dry_run: bool = False, settings: Mapping[str, str] | None = None,
                command: str = "", repository: str | None = None) -> Any:
    """The runner of ``--runner KIND``.

    Args:
        kind: ``local`` (:class:`LocalRunner`), ``emr`` (:class:`ivory.emr.launch.EmrRunner`,
            job flows on ephemeral EMR clusters) or ``emr-local`` (the same flows run on this
            machine, :func:`ivory.emr.local.emr_local_runner`).
        data: the repository's data storage (EMR runners).
        profile: EMR profile name (``conf/emr-<name>.json``).
        dry_run: EMR runners print the ``RunJobFlow`` request and run nothing.
        settings: Spark settings of the local session (``-D``).
        command: the command line, for the cluster's ``ivory:command`` tag.
        repository: the repository location, for the ``ivory:repository`` tag.

    Raises:
        UsageError: an unknown kind, ``--dry-run`` with the local runner, or a repository
            whose data is not on S3.
    """
    from ivory.errors import UsageError

    if kind not in RUNNERS:
        raise UsageError(f"unknown runner '{kind}': use one of {', '.join(RUNNERS)}")
    if kind == "local":
        if dry_run:
            raise UsageError("--dry-run needs --runner emr (or emr-local)")
        return LocalRunner(settings=settings or None)
    from ivory.emr.launch import EmrRunner
    from ivory.emr.local import emr_local_runner
    from ivory.emr.profile import load_profile
    from ivory.emr.staging import check_cluster_uri

    chosen = load_profile(profile)
    check_cluster_uri(data.uri())
    options = {"command": command, "repository": repository, "dry_run": dry_run}
    if kind == "emr":
        return EmrRunner(data, chosen, **options)
    return emr_local_runner(data, chosen, LocalRunner(settings=settings or None), **options)
