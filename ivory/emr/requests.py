"""Pure builders of EMR API requests (style item 11, design D4.2): plain dicts, no AWS.

A job runs on an ephemeral cluster as a list of ``command-runner.jar`` steps:

1. ``s3-dist-cp`` of the planned inputs S3 -> HDFS, one step per bucket, restricted to the
   planned objects by ``--srcPrefixesFile`` (not with ``staging: s3-direct``);
2. ``spark-submit --deploy-mode cluster --py-files <package>`` of the job's entry point with
   ``--plan`` and ``--result``;
3. ``s3-dist-cp`` of each output HDFS -> the run's S3 staging prefix (not with ``s3-direct``).

Which URIs are copied where is decided by :func:`ivory.emr.staging.build_staged_plan`.

Every step terminates the cluster on failure: nothing is committed by a failed job, and the
driver verifies and commits after the flow (D4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ivory.emr.bootstrap import BOOTSTRAP_SCRIPT
from ivory.emr.profile import EmrProfile
from ivory.emr.staging import Copy

#: Where staged inputs and outputs live on the cluster's HDFS.
HDFS_STAGING_ROOT = "hdfs:///ivory/staging"
COMMAND_RUNNER = "command-runner.jar"
ACTION_ON_FAILURE = "TERMINATE_CLUSTER"
#: EMR's limit on a tag value.
TAG_VALUE_MAX = 256


def emr_uri(uri: str) -> str:
    """``s3a://`` and ``s3n://`` as EMRFS's ``s3://``; other URIs unchanged."""
    for scheme in ("s3a://", "s3n://"):
        if uri.startswith(scheme):
            return "s3://" + uri[len(scheme):]
    return uri


def entry_point_uri(package_uri: str, job: str) -> str:
    """The job's ``jobs/<job>.py`` uploaded beside its package:
    ``s3://b/p/ivory-<hash>.zip`` -> ``s3://b/p/ivory-<hash>/jobs/<job>.py``."""
    base = package_uri[: -len(".zip")] if package_uri.endswith(".zip") else package_uri
    return f"{base}/jobs/{job}.py"


def result_uri(plan_uri: str) -> str:
    """``result.json`` beside the plan."""
    return f"{plan_uri.rpartition('/')[0]}/result.json"


def command_step(name: str, args: Sequence[str]) -> dict[str, Any]:
    """One ``command-runner.jar`` step."""
    return {
        "Name": name,
        "ActionOnFailure": ACTION_ON_FAILURE,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": list(args)},
    }


def spark_submit_args(job: str, plan_uri: str, package_uri: str, profile: EmrProfile
                      ) -> list[str]:
    """``spark-submit`` of the job's entry point in cluster mode with the package zip."""
    package = emr_uri(package_uri)
    plan = emr_uri(plan_uri)
    return [
        "spark-submit", "--deploy-mode", "cluster",
        "--py-files", package,
        "--conf", f"spark.pyspark.python={profile.python}",
        entry_point_uri(package, job),
        "--plan", plan,
        "--result", result_uri(plan),
    ]


def copy_args(copy: Copy) -> list[str]:
    """``s3-dist-cp`` arguments of one copy; with prefixes, ``--srcPrefixesFile`` names the
    uploaded list so that only the planned objects are copied."""
    args = ["s3-dist-cp", "--src", emr_uri(copy.src), "--dest", emr_uri(copy.dest)]
    if copy.prefixes_uri:
        args += ["--srcPrefixesFile", emr_uri(copy.prefixes_uri)]
    return args


def build_steps(job: str, plan_uri: str, package_uri: str, profile: EmrProfile,
                copies_in: Sequence[Copy] = (), copies_out: Sequence[Copy] = ()
                ) -> list[dict[str, Any]]:
    """The steps of one job (see the module docstring), in order.

    Args:
        job: the job's name (``ingest``, ``snapshot``, ``chord``, ...).
        plan_uri: S3 URI of the uploaded plan (the result is written beside it).
        package_uri: S3 URI of the package zip (:func:`ivory.package.build_package`).
        profile: the cluster's profile.
        copies_in / copies_out: from :func:`ivory.emr.staging.build_staged_plan` (empty
            with ``staging: s3-direct``).
    """
    steps = [command_step(f"ivory {job}: copy input {n}/{len(copies_in)} to the cluster",
                          copy_args(c)) for n, c in enumerate(copies_in, 1)]
    steps.append(command_step(f"ivory {job}: spark-submit",
                              spark_submit_args(job, plan_uri, package_uri, profile)))
    steps += [command_step(f"ivory {job}: copy output {n}/{len(copies_out)} to S3 staging",
                           copy_args(c)) for n, c in enumerate(copies_out, 1)]
    return steps


def bootstrap_actions(profile: EmrProfile) -> list[dict[str, Any]]:
    """The bootstrap action installing the jobs' Python dependencies (D4.5), when the profile
    names the uploaded copy of :data:`ivory.emr.bootstrap.BOOTSTRAP_SCRIPT`."""
    if not profile.bootstrap_uri:
        return []
    return [{
        "Name": BOOTSTRAP_SCRIPT.stem,
        "ScriptBootstrapAction": {"Path": emr_uri(profile.bootstrap_uri),
                                  "Args": [profile.python]},
    }]


def _tag(key: str, value: str) -> dict[str, str]:
    return {"Key": key, "Value": value[:TAG_VALUE_MAX]}


def build_run_job_flow(name: str, steps: Sequence[dict[str, Any]], profile: EmrProfile,
                       repository: str, command: str) -> dict[str, Any]:
    """The ``RunJobFlow`` request of an ephemeral cluster running ``steps`` then terminating
    (no steps left, or idle for ``profile.idle_timeout_secs``). Tags ``ivory:repository`` and
    ``ivory:command`` are the record of what the cluster is for (D4.3)."""
    instances: dict[str, Any] = {
        "InstanceGroups": [
            {"Name": "master", "InstanceRole": "MASTER", "Market": "ON_DEMAND",
             "InstanceType": profile.master_instance_type, "InstanceCount": 1},
            {"Name": "core", "InstanceRole": "CORE", "Market": "ON_DEMAND",
             "InstanceType": profile.core_instance_type,
             "InstanceCount": profile.core_instance_count},
        ],
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
    }
    if profile.subnet_id:
        instances["Ec2SubnetId"] = profile.subnet_id
    request: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": profile.release_label,
        "Instances": instances,
        "Steps": list(steps),
        "BootstrapActions": bootstrap_actions(profile),
        "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
        "Configurations": [{
            "Classification": "spark-env",
            "Properties": {},
            "Configurations": [{
                "Classification": "export",
                "Properties": {"PYSPARK_PYTHON": profile.python},
            }],
        }],
        "ServiceRole": profile.service_role,
        "JobFlowRole": profile.job_flow_role,
        "AutoTerminationPolicy": {"IdleTimeout": profile.idle_timeout_secs},
        "VisibleToAllUsers": True,
        "Tags": [_tag("ivory:repository", repository), _tag("ivory:command", command),
                 *(_tag(k, v) for k, v in profile.tags
                   if k not in ("ivory:repository", "ivory:command"))],
    }
    if profile.log_uri:
        request["LogUri"] = emr_uri(profile.log_uri)
    return request
