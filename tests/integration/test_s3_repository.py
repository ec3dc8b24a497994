"""Repositories on S3 (D1.3): metadata and data on a real S3-compatible HTTP server (moto's
server mode on 127.0.0.1), Spark reading and writing through s3a. The same work on local disk
gives the same facts and extracts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from ivory.debug import cat_errors, count_facts, dump_facts
from ivory.dictionaries import import_dictionary
from ivory.ingest import ingest
from ivory.planning import parse_output_spec
from ivory.repository import Repository
from ivory.snapshot import snapshot
from ivory.storage import open_storage

pytestmark = pytest.mark.slow

DICTIONARY = "fish:weight|encoding=double|tombstone=NA\nfish:name|encoding=string\n"
FACTS = ("E1|weight|1.5|2014-01-01\nE1|weight|2|2014-02-01\nE1|name|Wanda|2014-01-01\n"
         "E2|weight|NA|2014-02-01\nE3|weight|heavy|2014-01-01\n")


@pytest.fixture
def s3_spark(spark, s3_server, s3_env):
    """The shared session pointed at the local S3 server (static test keys: the JVM started
    before the test's environment was set)."""
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


@pytest.fixture
def facts_dir(tmp_path):
    (tmp_path / "facts" / "fish").mkdir(parents=True)
    (tmp_path / "facts" / "fish" / "a.psv").write_text(FACTS)
    return tmp_path / "facts"


def run_everything(location, facts_dir, out, runner, data_location=None):
    repository, created = Repository.create(location, "Australia/Sydney", data_location)
    assert created
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    result = ingest(Repository.open(location), [f"sparse:delimited:psv={facts_dir}"], runner)
    repository = Repository.open(location)
    taken = snapshot(repository, dt.date(2014, 3, 1),
                     [parse_output_spec(f"sparse:psv={out}/sparse"),
                      parse_output_spec(f"dense:psv={out}/dense")], runner)
    dump = sorted(dump_facts(repository, [result.factset_id], [taken.snapshot_id], [], []))
    extracts = {}
    for name in ("sparse", "dense"):
        storage = open_storage(f"{out}/{name}")
        extracts[name] = sorted(
            line for e in storage.list("", None) if e.key.startswith("part-")
            for line in storage.read(e.key).decode().splitlines())
    return repository, result, taken, dump, extracts


def test_s3_repository_matches_local_disk_d1_3(s3_spark, local_runner, s3_bucket, facts_dir,
                                                tmp_path, capsys):
    s3 = run_everything(f"s3://{s3_bucket}/repo", facts_dir, f"s3://{s3_bucket}/out",
                        local_runner)
    local = run_everything(str(tmp_path / "repo"), facts_dir, str(tmp_path / "out"),
                           local_runner)
    assert s3[3] == local[3] and len(s3[3]) == 7  # dump of factset + snapshot
    assert s3[4] == local[4] == {
        "sparse": ["E1|fish|name|Wanda", "E1|fish|weight|2.0"],
        "dense": ["E1|Wanda|2.0"],
    }
    assert (s3[1].facts, s3[1].errors) == (4, 1)
    repository = s3[0]
    keys = [e.key for e in repository.data.list("factsets/00000000/", None)]
    assert any(k.startswith("factsets/00000000/fish/2014/01/01/") for k in keys)
    assert count_facts(f"s3://{s3_bucket}/repo/snapshots/00000000") == 3
    assert cat_errors([f"s3://{s3_bucket}/repo/errors/*/*"], "|", sys.stdout) == 1
    assert "Value 'heavy' is not a double" in capsys.readouterr().out


def test_metadata_on_disk_data_on_s3_d1_3(s3_spark, local_runner, s3_bucket, facts_dir,
                                          tmp_path):
    location = str(tmp_path / "meta")
    repository, *_ = run_everything(location, facts_dir, str(tmp_path / "out"), local_runner,
                                    data_location=f"s3://{s3_bucket}/data")
    data = open_storage(f"s3://{s3_bucket}/data")
    assert any(e.key.startswith("factsets/00000000/fish/")
               for e in data.list("factsets/", None))
    assert not os.path.exists(tmp_path / "meta" / "factsets")
    assert repository.store() == ["00000000"]


def test_every_command_runs_against_an_s3_repository(s3_bucket, s3_env, facts_dir, tmp_path):
    """The console script in subprocesses, as a user runs it: s3a from the standard AWS
    settings in the environment (§12)."""
    repo = f"s3://{s3_bucket}/cli"
    env = dict(os.environ, IVORY_REPOSITORY=repo)
    (tmp_path / "d.psv").write_text(DICTIONARY)

    def ivory(*args):
        done = subprocess.run([sys.executable, "-m", "ivory", *args], env=env, text=True,
                              capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ivory("create-repository", "-z", "UTC", repo)
    assert '"timezone" : "UTC"' in ivory("config")
    ivory("import-dictionary", "-p", str(tmp_path / "d.psv"))
    assert "fish:name|encoding=string|mode=state" in ivory("cat-dictionary")
    assert "as 00000000" in ivory("ingest", "-i", f"sparse:delimited:psv={facts_dir}")
    assert "heavy" in ivory("cat-errors", f"{repo}/errors/*/*")
    assert "E1|fish|name|Wanda|2014-01-01T00:00:00|Factset[00000000]" in ivory(
        "debug-dump-facts", "-f", "00000000")
    assert "Snapshot complete: 00000000" in ivory(
        "snapshot", "-d", "2014-03-01", "-o", f"sparse:psv={repo}-out/sparse")
    assert ivory("count-facts", f"{repo}/snapshots/00000000") == "3\n"
