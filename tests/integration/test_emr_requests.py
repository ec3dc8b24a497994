"""EMR request shapes against moto's server (D4.2, D4.3): the ``RunJobFlow`` and
``AddJobFlowSteps`` requests ivory builds are accepted by botocore's validation and by the EMR
API of the local moto server (on 127.0.0.1; its steps never run), and the client layer lists
ivory's clusters by their tags, describes them and terminates them."""

from __future__ import annotations

import argparse

import pytest

from ivory.emr.client import EmrClient, EmrError, make_emr_client
from ivory.emr.profile import combine_profile
from ivory.emr.requests import build_run_job_flow, build_steps, emr_uri
from ivory.emr.staging import build_staged_plan

PLAN = {
    "job": "ingest", "factset_id": "00000003",
    "inputs": [{"namespace": "fish", "format": {"delimiter": "|", "escaped": False},
                "files": ["s3a://data/in/fish/a.psv", "s3a://data/in/fish/b.psv"]}],
    "output": {"factset": "s3a://bucket/repo/factsets/00000003",
               "errors": "s3a://bucket/repo/errors/00000003"},
}


def request_of(staging: str = "hdfs", **profile_values: object) -> dict:
    profile = combine_profile({"staging": staging, "log_uri": "s3://logs/emr/",
                               "bootstrap_uri": "s3://b/bootstrap/install-python-deps.sh",
                               **profile_values})
    run = "s3a://bucket/repo/_ivory/emr/runs/ingest-r1"
    staged = build_staged_plan(PLAN, staging, "hdfs:///ivory/staging/ingest-r1", run, emr_uri)
    steps = build_steps("ingest", f"{run}/plan.json",
                        "s3a://bucket/repo/_ivory/emr/packages/ivory-0123456789abcdef.zip",
                        profile, staged.copies_in, staged.copies_out)
    return build_run_job_flow("ivory ingest ingest-r1", steps, profile, "s3://bucket/repo",
                              "ivory ingest -i sparse:delimited:psv=s3://data/in")


@pytest.fixture
def emr(s3_env: dict[str, str]) -> EmrClient:
    """An EmrClient on the local moto server (AWS_ENDPOINT_URL from s3_env)."""
    return EmrClient(make_emr_client(s3_env["AWS_REGION"]), poll_interval_secs=0.0)


@pytest.mark.parametrize("staging", ["hdfs", "s3-direct"])
def test_run_job_flow_and_add_steps_are_accepted_d4_2(emr: EmrClient, staging: str) -> None:
    request = request_of(staging)
    cluster_id = emr.start(request)
    cluster = emr.describe(cluster_id)
    assert cluster_id.startswith("j-")
    assert cluster["ReleaseLabel"].startswith("emr-7.")
    assert cluster["LogUri"] == "s3://logs/emr/"
    assert cluster["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps false
    tags = {t["Key"]: t["Value"] for t in cluster["Tags"]}
    assert tags["ivory:repository"] == "s3://bucket/repo"
    steps = emr.list_steps(cluster_id)
    assert [s["Name"] for s in reversed(steps)] == [s["Name"] for s in request["Steps"]]
    assert {s["ActionOnFailure"] for s in steps} == {"TERMINATE_CLUSTER"}
    # AddJobFlowSteps takes the same step dicts (a flow added to a running cluster).
    added = emr.add_steps(cluster_id, request["Steps"][-1:])
    assert len(added) == 1 and len(emr.list_steps(cluster_id)) == len(steps) + 1
    emr.terminate(cluster_id)


def test_list_finds_ivory_clusters_by_tag_and_terminate_ends_them_d4_3(emr: EmrClient) -> None:
    ours = emr.start(request_of())
    other = request_of()
    other["Tags"] = [t for t in other["Tags"] if not t["Key"].startswith("ivory:")]
    theirs = emr.start(other)
    active = {c["Id"] for c in emr.list_active()}
    assert ours in active and theirs not in active
    emr.terminate(ours)
    emr.terminate(theirs)
    assert ours not in {c["Id"] for c in emr.list_active()}
    assert emr.describe(ours)["Status"]["State"] in ("TERMINATING", "TERMINATED")


def test_bad_request_is_refused_with_the_reason(emr: EmrClient) -> None:
    request = request_of()
    request["Instances"]["InstanceGroups"][0]["InstanceCount"] = "one"
    with pytest.raises(Exception, match="InstanceCount"):
        emr.start(request)  # botocore's parameter validation, before any call
    with pytest.raises(EmrError, match="describe_cluster for cluster j-NOSUCHCLUSTER failed"):
        emr.describe("j-NOSUCHCLUSTER")


def test_emr_commands_status_list_terminate(emr: EmrClient, capsys, monkeypatch) -> None:
    from ivory.commands import emr as commands

    cluster_id = emr.start(request_of())
    monkeypatch.setattr(commands, "_client", lambda args: emr)

    def run(*words: str) -> str:
        args = argparse.Namespace(emr_command=words[0], cluster_id=words[-1], all_steps=False)
        assert commands.run_emr(args) == 0
        return capsys.readouterr().out

    assert cluster_id in run("list")
    status = run("status", cluster_id)
    assert "logs: s3://logs/emr/" in status
    assert "ivory ingest: spark-submit" in status
    assert f"cluster logs: s3://logs/emr/{cluster_id}/" in run("logs", cluster_id)
    assert f"Terminating {cluster_id}" in run("terminate", cluster_id)
