"""The upstream regression cases in ../shared/conformance, run through their own runner
against this project's ``ivory`` command (§12)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFORMANCE = pathlib.Path(os.environ.get("IVORY_CONFORMANCE",
                                          ROOT.parent / "shared" / "conformance"))
#: Cases whose rules this version implements (every case of the suite so far).
CASES = ["ingest", "debug", "text-escaped", "invalid-dictionary", "chord"]


@pytest.mark.parametrize("case", CASES)
def test_conformance_case(case):
    runner = CONFORMANCE / "run"
    if not runner.exists():
        pytest.skip(f"no conformance suite at {CONFORMANCE} (set IVORY_CONFORMANCE to its path)")
    if not (CONFORMANCE / case).is_dir():
        pytest.skip(f"case {case} is not in {CONFORMANCE}")
    env = dict(os.environ)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if not shutil.which("ivory", path=env["PATH"]):
        env["IVORY"] = f"{sys.executable} -m ivory"
    done = subprocess.run(["bash", str(runner), str(CONFORMANCE / case)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"PASS {case}" in done.stdout
