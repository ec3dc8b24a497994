"""The ``ivory`` console script end to end, as a user runs it: separate processes, local
Spark started by the command itself, a repository on local disk (D6.3, §12)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def ivory(*args, repository=None, check=True):
    env = dict(os.environ)
    if repository:
        env["IVORY_REPOSITORY"] = str(repository)
    command = [shutil.which("ivory") or sys.executable, *args]
    if command[0] == sys.executable:
        command = [sys.executable, "-m", "ivory", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"ivory {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def test_create_import_ingest_snapshot_and_inspect(tmp_path):
    repo = tmp_path / "repo"
    facts = tmp_path / "facts" / "animal"
    facts.mkdir(parents=True)
    (facts / "a.psv").write_text(
        "cat|legs|4|2020-01-01\ncat|legs|3|2020-06-01\ndog|legs|4|2020-01-01\n"
        "dog|sound|woof|2020-01-01T12:00:00Z\nbird|legs|two|2020-01-01\n")
    (tmp_path / "dictionary.psv").write_text(
        "animal:legs|encoding=int|tombstone=NA\nanimal:sound|encoding=string\n")

    assert "Created configuration" in ivory("create-repository", "-z", "UTC", str(repo)).stdout
    assert ivory("config", repository=repo).stdout == (  # §11.10, §2.1
        '{\n  "version" : "v5",\n  "timezone" : "UTC"\n}\n')
    ivory("import-dictionary", "-p", str(tmp_path / "dictionary.psv"), repository=repo)
    assert sorted(ivory("cat-dictionary", "-r", str(repo)).stdout.splitlines()) == [
        "", "animal:legs|encoding=int|mode=state|tombstone=NA",
        "animal:sound|encoding=string|mode=state"]

    done = ivory("ingest", "-i", f"sparse:delimited:psv={tmp_path / 'facts'}",
                 "-Ddfs.block.size=16777216", repository=repo)
    assert "as 00000000" in done.stdout

    errors = ivory("cat-errors", str(repo / "errors" / "*" / "*")).stdout
    assert errors == ("bird|legs|two|2020-01-01|bird, legs, two, 2020-01-01\n"
                      "Value 'two' is not an integer (position: 3)\n")

    dump = ivory("debug-dump-facts", "-f", "00000000", "-e", "dog", repository=repo).stdout
    assert sorted(dump.splitlines()) == [
        "dog|animal|legs|4|2020-01-01T00:00:00|Factset[00000000]",
        "dog|animal|sound|woof|2020-01-01T12:00:00|Factset[00000000]"]

    done = ivory("snapshot", "-d", "2020-03-01", "-o", f"dense:psv={tmp_path / 'dense'}",
                 "-o", f"sparse:csv={tmp_path / 'sparse'}", repository=repo)
    assert "Snapshot complete: 00000000" in done.stdout
    dense = sorted(line for p in sorted((tmp_path / "dense").glob("part-*"))
                   for line in p.read_text().splitlines())
    assert dense == ["cat|4|NA", "dog|4|woof"]
    sparse = sorted(line for p in sorted((tmp_path / "sparse").glob("part-*"))
                    for line in p.read_text().splitlines())
    assert sparse == ["cat,animal,legs,4", "dog,animal,legs,4", "dog,animal,sound,woof"]
    assert ivory("count-facts", str(repo / "snapshots" / "00000000")).stdout == "3\n"


def test_errors_are_one_line_with_exit_status_1(tmp_path):
    done = ivory("config", repository=tmp_path / "nothing-here", check=False)
    assert done.returncode == 1
    assert "is not an ivory repository" in done.stderr
    assert "Traceback" not in done.stderr
