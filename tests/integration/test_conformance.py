"""The upstream regression cases in ../shared/conformance and the ones vendored in
tests/conformance, run through their own runner against this project's ``ivory`` command
(§12)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests import s3server

pytestmark = [pytest.mark.conformance, pytest.mark.slow]
s3_server, s3_env, s3_bucket = s3server.s3_server, s3server.s3_env, s3server.s3_bucket

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFORMANCE = pathlib.Path(os.environ.get("IVORY_CONFORMANCE",
                                          ROOT.parent / "shared" / "conformance"))
#: Cases whose rules this version implements (every case of the suite so far).
CASES = ["ingest", "debug", "text-escaped", "invalid-dictionary", "chord"]


#: The vendored cases (tests/conformance: upstream cases not in the shared suite; each
#: folder's NOTES.md says how it was translated).
PORTED = ROOT / "tests" / "conformance"
PORTED_CASES = ["commits", "keyed_set", "planning", "recreate-factset", "rename", "s3",
                "statistics", "thrift-structs", "update-v0-v2-metadata",
                "update-v1-v2-metadata", "update-v2-v3-metadata", "window"]
#: The costliest vendored cases (1-2 minutes each on 2 cores: every Spark command of a case
#: starts a JVM) run only with ``IVORY_TEST_UPSTREAM=all``, to keep the default suite well
#: under 30 minutes. What they check is also covered, more cheaply, by tests in the default
#: suite: window by tests/spark/test_squash_window.py (same inputs, same expected files),
#: planning by tests/unit/test_planning.py, s3 by tests/integration/test_s3_repository.py,
#: update-v0/v1 by tests/unit/test_update.py and the update-v2-v3 case.
FULL_ONLY = frozenset({"planning", "s3", "update-v0-v2-metadata", "update-v1-v2-metadata",
                       "window"})


def _run_case(runner: pathlib.Path, case_dir: pathlib.Path, extra_env: dict | None = None):
    env = dict(os.environ, **(extra_env or {}))
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("IVORY_PYTHON", sys.executable)
    if not shutil.which("ivory", path=env["PATH"]):
        env["IVORY"] = f"{sys.executable} -m ivory"
    done = subprocess.run(["bash", str(runner), str(case_dir)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"PASS {case_dir.name}" in done.stdout


@pytest.mark.parametrize("case", CASES)
def test_conformance_case(case):
    runner = CONFORMANCE / "run"
    if not runner.exists():
        pytest.skip(f"no conformance suite at {CONFORMANCE} (set IVORY_CONFORMANCE to its path)")
    if not (CONFORMANCE / case).is_dir():
        pytest.skip(f"case {case} is not in {CONFORMANCE}")
    _run_case(runner, CONFORMANCE / case)


@pytest.mark.parametrize("case", PORTED_CASES)
def test_ported_upstream_case(case, request):
    """A vendored upstream case (§12; the rules each one shows are named in its case.sh).
    The ``s3`` case runs against the local moto server, with ``AWS_TEST_BUCKET`` set to a
    fresh bucket, and is skipped when the s3a jars are not cached."""
    if case in FULL_ONLY and os.environ.get("IVORY_TEST_UPSTREAM") != "all":
        pytest.skip(f"{case} runs with IVORY_TEST_UPSTREAM=all (the costliest upstream cases)")
    extra = {}
    if case == "s3":
        from ivory.s3a import cache_dir, s3a_jars

        try:
            s3a_jars(download=False)
        except Exception:
            pytest.skip(f"the s3a jars are not in {cache_dir()}: run scripts/fetch-s3a-jars")
        bucket = request.getfixturevalue("s3_bucket")
        extra = dict(request.getfixturevalue("s3_env"), AWS_TEST_BUCKET=bucket)
    _run_case(PORTED / "run", PORTED / case, extra)


def test_every_vendored_case_is_listed_and_documented():
    """Each tests/conformance folder with a case.sh runs in test_ported_upstream_case and
    has the NOTES.md saying how it was translated."""
    folders = sorted(p.parent.name for p in PORTED.glob("*/case.sh"))
    assert folders == sorted(PORTED_CASES)
    assert [c for c in folders if not (PORTED / c / "NOTES.md").is_file()] == []
