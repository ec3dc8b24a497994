"""EMR request builders, profiles and the job package: pure, no Spark, no AWS (style item 11).

The golden request is regenerated with ``IVORY_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
import zipimport
from pathlib import Path

import pytest

from ivory.emr.bootstrap import BOOTSTRAP_SCRIPT
from ivory.emr.profile import EmrProfile, ProfileError, combine_profile, load_profile
from ivory.emr.requests import build_run_job_flow, build_steps, emr_uri
from ivory.emr.staging import build_staged_plan
from ivory.emr.types import TERMINAL_STATES, ClusterState, StepState
from ivory.package import build_package

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "emr_snapshot_request.json"
PACKAGE = "s3://bucket/repo/_ivory/emr/packages/ivory-0123456789abcdef.zip"
PLAN = "s3a://bucket/repo/_ivory/emr/runs/snapshot-r1/plan.json"
JOB_PLAN = {
    "job": "snapshot", "compute": True, "output": "s3a://bucket/repo/snapshots/00000002",
    "inputs": [{"factset": f, "priority": n, "files": [
        f"s3a://bucket/repo/factsets/{f}/fish/2014/06/01/part-0.parquet"]}
        for n, f in ((1, "00000001"), (2, "00000000"))],
    "previous": {"snapshot_id": "00000001",
                 "files": ["s3a://bucket/repo/snapshots/00000001/fish/part-0.parquet"]},
    "extracts": [{"path": "s3a://bucket/out/dense", "form": "dense"}],
}


def default_profile(**overrides: object) -> EmrProfile:
    return load_profile("default", overrides)


def snapshot_request(profile: EmrProfile) -> dict:
    staged = build_staged_plan(JOB_PLAN, profile.staging, "hdfs:///ivory/staging/snapshot-r1",
                               "s3a://bucket/repo/_ivory/emr/runs/snapshot-r1", emr_uri)
    steps = build_steps("snapshot", PLAN, PACKAGE, profile, staged.copies_in,
                        staged.copies_out)
    return build_run_job_flow("ivory snapshot 00000002 2014-06-30", steps, profile,
                              "s3://bucket/repo",
                              "ivory snapshot -d 2014-06-30 -o dense:psv=s3://bucket/out/dense")


def args_of(request: dict) -> list[list[str]]:
    return [s["HadoopJarStep"]["Args"] for s in request["Steps"]]


def test_golden_snapshot_request() -> None:
    text = json.dumps(snapshot_request(default_profile()), sort_keys=True, indent=2) + "\n"
    if os.environ.get("IVORY_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "rerun with IVORY_REGEN_GOLDEN=1 if the change is meant"


def test_step_order_and_arguments() -> None:
    request = snapshot_request(default_profile())
    steps = request["Steps"]
    assert {s["ActionOnFailure"] for s in steps} == {"TERMINATE_CLUSTER"}
    assert {s["HadoopJarStep"]["Jar"] for s in steps} == {"command-runner.jar"}
    run = "s3://bucket/repo/_ivory/emr/runs/snapshot-r1"
    hdfs = "hdfs:///ivory/staging/snapshot-r1"
    assert args_of(request) == [
        ["s3-dist-cp", "--src", "s3://bucket/repo", "--dest", f"{hdfs}/in/bucket/repo",
         "--srcPrefixesFile", f"{run}/inputs-1.txt"],
        ["spark-submit", "--deploy-mode", "cluster", "--py-files", PACKAGE,
         "--conf", "spark.pyspark.python=/usr/bin/python3.11",
         "s3://bucket/repo/_ivory/emr/packages/ivory-0123456789abcdef/jobs/snapshot.py",
         "--plan", f"{run}/plan.json", "--result", f"{run}/result.json"],
        ["s3-dist-cp", "--src", f"{hdfs}/out/0", "--dest", f"{run}/out/0"],
        ["s3-dist-cp", "--src", f"{hdfs}/out/1", "--dest", f"{run}/out/1"],
    ]


def test_s3_direct_drops_copy_steps() -> None:
    request = snapshot_request(default_profile(staging="s3-direct"))
    assert [a[0] for a in args_of(request)] == ["spark-submit"]


def test_ephemeral_cluster_auto_terminates_and_is_tagged() -> None:
    request = snapshot_request(default_profile(idle_timeout_secs=900))
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 900}
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert request["VisibleToAllUsers"] is True
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["ivory:repository"] == "s3://bucket/repo"
    assert tags["ivory:command"].startswith("ivory snapshot -d 2014-06-30")
    assert request["ReleaseLabel"] == "emr-7.5.0"
    assert request["Applications"] == [{"Name": "Hadoop"}, {"Name": "Spark"}]
    (spark_env,) = request["Configurations"]
    assert spark_env["Classification"] == "spark-env"
    assert spark_env["Configurations"][0]["Properties"] == {
        "PYSPARK_PYTHON": "/usr/bin/python3.11"}


def test_bootstrap_action_runs_the_one_script() -> None:
    assert BOOTSTRAP_SCRIPT.is_file()
    text = BOOTSTRAP_SCRIPT.read_text()
    assert all(dep in text for dep in ("pyarrow", "thrift", "boto3", "python3.11"))
    (action,) = snapshot_request(default_profile())["BootstrapActions"]
    assert action["ScriptBootstrapAction"]["Path"].endswith("/" + BOOTSTRAP_SCRIPT.name)
    assert snapshot_request(combine_profile({}))["BootstrapActions"] == []


def test_profile_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "emr-typo.json").write_text(json.dumps({"core_instance_cuont": 4}))
    with pytest.raises(ProfileError, match=r"unknown EMR profile key 'core_instance_cuont' in "
                                           r".*emr-typo\.json"):
        load_profile("typo", conf_dir=tmp_path)
    with pytest.raises(ProfileError, match="no EMR profile 'absent'"):
        load_profile("absent", conf_dir=tmp_path)


def test_profile_precedence_defaults_file_overrides() -> None:
    assert combine_profile({}) == EmrProfile()
    profile = combine_profile({"core_instance_count": 4, "region": "eu-west-1"},
                              {"core_instance_count": 8, "region": None})
    assert (profile.core_instance_count, profile.region) == (8, "eu-west-1")
    assert profile.release_label == "emr-7.5.0"
    with pytest.raises(ProfileError, match="'staging'"):
        combine_profile({"staging": "nfs"})
    with pytest.raises(ProfileError, match="wrong type"):
        combine_profile({"core_instance_count": "4"})


def test_states() -> None:
    assert ClusterState("TERMINATED_WITH_ERRORS") in TERMINAL_STATES
    assert StepState.FAILED in TERMINAL_STATES
    assert ClusterState.WAITING not in TERMINAL_STATES
    assert StepState.RUNNING == "RUNNING"


def test_package_is_deterministic_and_importable(tmp_path: Path) -> None:
    first = build_package(tmp_path / "a")
    second = build_package(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    assert build_package(tmp_path / "a") == first
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "ivory/jobs/entry.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    spec = zipimport.zipimporter(str(first / "ivory" / "jobs")).find_spec("entry")
    assert spec is not None and spec.origin.startswith(str(first))
    # As spark-submit --py-files uses it: the zip first on sys.path, in a fresh interpreter.
    code = (f"import sys; sys.path.insert(0, {str(first)!r}); import ivory.jobs.entry as e; "
            "e.make_parser('snapshot'); print(e.__file__)")
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == str(first / "ivory" / "jobs" / "entry.py")


def test_package_name_follows_the_sources(tmp_path: Path) -> None:
    import shutil

    import ivory
    from ivory.package import package_bytes, package_name

    source = tmp_path / "src" / "ivory"
    shutil.copytree(Path(ivory.__file__).parent, source,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = package_name(package_bytes(source))
    with (source / "jobs" / "entry.py").open("a") as f:
        f.write("# changed\n")
    assert package_name(package_bytes(source)) != before


def test_moto_accepts_the_request() -> None:
    moto = pytest.importorskip("moto")
    import boto3

    request = snapshot_request(default_profile())
    with moto.mock_aws():
        emr = boto3.client("emr", region_name="us-east-1")
        cluster_id = emr.run_job_flow(**request)["JobFlowId"]
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    assert cluster["ReleaseLabel"] == "emr-7.5.0"
    assert {t["Key"] for t in cluster["Tags"]} >= {"ivory:repository", "ivory:command"}
    assert len(steps) == len(request["Steps"])


def test_snapshot_dry_run_plans_without_writing(s3_bucket: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from ivory.cli import main
    from ivory.repository import Repository

    location = f"s3://{s3_bucket}/repo"
    repository, _ = Repository.create(location, "UTC")
    assert main(["snapshot", "-r", location, "-d", "2014-06-30", "--runner", "emr",
                 "--dry-run", "-o", f"dense:psv=s3://{s3_bucket}/out/dense"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["Tags"][0] == {"Key": "ivory:repository", "Value": location}
    submit = next(a for a in args_of(printed) if a[0] == "spark-submit")
    plan = submit[submit.index("--plan") + 1]
    assert plan.startswith(f"s3://{s3_bucket}/repo/_ivory/emr/runs/snapshot-")
    assert args_of(printed)[-1][-1].startswith(f"s3://{s3_bucket}/repo/_ivory/emr/runs/")
    assert not list(repository.data.list("snapshots/", None))  # nothing allocated
    assert not list(repository.data.list("_ivory/", None))  # nothing uploaded
    assert main(["snapshot", "-r", "/tmp/not-on-s3", "--runner", "emr", "--dry-run"]) == 1
