"""``--runner emr-local`` (D4.4): ingest then snapshot as job flows, their steps run on this
machine against the local S3 server (moto), copies with pyarrow.fs and the jobs on the shared
local Spark session. The committed result equals the local-disk result (D4.2)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ivory.debug import dump_facts
from ivory.dictionaries import import_dictionary
from ivory.emr.client import EmrError
from ivory.emr.local import emr_local_runner
from ivory.emr.profile import combine_profile
from ivory.ingest import ingest
from ivory.planning import parse_output_spec
from ivory.repository import Repository
from ivory.snapshot import snapshot
from ivory.storage import open_storage
from ivory.verify import verify_repository

pytestmark = pytest.mark.slow

DICTIONARY = "fish:weight|encoding=double|tombstone=NA\nfish:name|encoding=string\n"
FACTS = ("E1|weight|1.5|2014-01-01\nE1|weight|2|2014-02-01\nE1|name|Wanda|2014-01-01\n"
         "E2|weight|NA|2014-02-01\nE3|weight|heavy|2014-01-01\nE4|weight|7|2014-05-01\n")


@pytest.fixture
def s3_spark(spark, s3_server, s3_env):
    """The shared session pointed at the local S3 server (as in test_s3_repository)."""
    if "hadoop-aws" not in spark.conf.get("spark.jars", ""):
        pytest.skip("s3a jars are not on the classpath: run scripts/fetch-s3a-jars")
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in {
        "fs.s3a.endpoint": s3_server.endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": s3_env["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": s3_env["AWS_SECRET_ACCESS_KEY"],
        "fs.s3a.endpoint.region": s3_env["AWS_REGION"],
    }.items():
        conf.set(key, value)
    return spark


def profile(staging: str = "hdfs"):
    return combine_profile({"bootstrap_uri": None, "log_uri": None, "staging": staging})


def run_both(location, inputs, out, runner):
    repository, _ = Repository.create(location, "Australia/Sydney")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    repository = Repository.open(location)
    ingested = ingest(repository, [f"sparse:delimited:psv={inputs}"], runner)
    taken = snapshot(Repository.open(location), dt.date(2014, 3, 1),
                     [parse_output_spec(f"sparse:psv={out}/sparse"),
                      parse_output_spec(f"dense:psv={out}/dense")], runner)
    repository = Repository.open(location)
    dump = sorted(dump_facts(repository, [ingested.factset_id], [taken.snapshot_id], [], []))
    extracts = {}
    for name in ("sparse", "dense"):
        storage = open_storage(f"{out}/{name}")
        extracts[name] = sorted(line for e in storage.list("", None) if e.key.startswith("part-")
                                for line in storage.read(e.key).decode().splitlines())
    manifests = {kind: sorted((f.path.split("/")[0], f.size) for f in
                              repository.read_manifest(kind, i).files)
                 for kind, i in (("factset", ingested.factset_id),
                                 ("snapshot", taken.snapshot_id))}
    return repository, ingested, taken, dump, extracts, manifests


def put_inputs(s3_server, bucket):
    s3_server.client().put_object(Bucket=bucket, Key="input/fish/a.psv", Body=FACTS.encode())
    return f"s3://{bucket}/input"


@pytest.mark.parametrize("staging", ["hdfs", "s3-direct"])
def test_emr_local_flow_commits_what_local_spark_commits_d4_4(
        staging, s3_spark, s3_server, local_runner, s3_bucket, tmp_path, capsys):
    inputs = put_inputs(s3_server, s3_bucket)
    local_inputs = tmp_path / "input" / "fish"
    local_inputs.mkdir(parents=True)
    (local_inputs / "a.psv").write_text(FACTS)
    location = f"s3://{s3_bucket}/repo"
    data = open_storage(location)
    runner = emr_local_runner(data, profile(staging), local_runner,
                              staging_dir=str(tmp_path / "hdfs"))
    flow = run_both(location, inputs, f"s3://{s3_bucket}/out", runner)
    disk = run_both(str(tmp_path / "repo"), str(tmp_path / "input"), str(tmp_path / "out"),
                    local_runner)
    assert flow[3] == disk[3] and len(flow[3]) == 8  # facts of the factset and the snapshot
    assert flow[4] == disk[4] == {
        "sparse": ["E1|fish|name|Wanda", "E1|fish|weight|2.0"],
        "dense": ["E1|Wanda|2.0"],
    }
    assert flow[5] == disk[5]  # the same files per namespace, the same sizes
    assert (flow[1].facts, flow[1].errors, flow[2].facts) == (5, 1, 3)
    assert flow[0].store() == ["00000000"]
    assert verify_repository(flow[0]).ok  # every published file: size and MD5
    # The flows: two, both succeeded; their staged outputs were cleaned, the record kept.
    assert [(f.job, o.succeeded) for f, o in runner.flows] == [("ingest", True),
                                                               ("snapshot", True)]
    runs = [e.key for e in data.list("_ivory/emr/runs/", None)]
    assert not [k for k in runs if "/out/" in k or "/inputs-" in k]
    assert sum(k.endswith("/plan.json") for k in runs) == 2
    plan = json.loads(data.read(next(k for k in runs if k.startswith("_ivory/emr/runs/ingest")
                                     and k.endswith("plan.json"))))
    written = plan["output"]["factset"]
    if staging == "hdfs":  # the job read and wrote the cluster's copies, not the repository
        assert written.startswith(f"file://{tmp_path}/hdfs/")
        assert plan["inputs"][0]["files"][0].startswith(f"file://{tmp_path}/hdfs/")
    else:
        assert written.startswith(f"s3a://{s3_bucket}/repo/_ivory/emr/runs/")
        assert plan["inputs"][0]["files"] == [f"s3a://{s3_bucket}/input/fish/a.psv"]
    packages = [e.key for e in data.list("_ivory/emr/packages/", None)]
    assert any(k.endswith(".zip") for k in packages)
    assert any(k.endswith("/jobs/snapshot.py") for k in packages)
    assert "EMR cluster j-LOCAL" in capsys.readouterr().err


class Exploding:
    """A runner whose job fails, as a Spark job on the cluster would."""

    def run(self, plan):
        raise RuntimeError(f"the {plan['job']} job ran out of memory")


def test_failed_step_commits_nothing_and_runs_the_failure_callback_d4_2(
        s3_server, s3_bucket, tmp_path):
    inputs = put_inputs(s3_server, s3_bucket)
    location = f"s3://{s3_bucket}/repo"
    repository, _ = Repository.create(location, "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    seen = []
    runner = emr_local_runner(open_storage(location), profile(), Exploding(),
                              staging_dir=str(tmp_path / "hdfs"), on_failure=[seen.append],
                              on_success=[lambda o: pytest.fail("success callback ran")])
    before = Repository.open(location).state().version
    with pytest.raises(EmrError, match=r"step 'ivory ingest: spark-submit' FAILED: "
                                       r"RuntimeError the ingest job ran out of memory"):
        ingest(Repository.open(location), [f"sparse:delimited:psv={inputs}"], runner)
    repository = Repository.open(location)
    assert repository.state().version == before and repository.store() == []
    (outcome,) = seen
    assert not outcome.succeeded and outcome.status.failed_step == "ivory ingest: spark-submit"
    assert [s.state for s in outcome.status.steps] == ["COMPLETED", "FAILED", "CANCELLED",
                                                       "CANCELLED"]
    data = repository.data
    assert not [e.key for e in data.list("factsets/", None) if not e.key.endswith(".allocated")]
    assert not [e.key for e in data.list("_ivory/emr/runs/", None)
                if "/out/" in e.key or "/inputs-" in e.key]
