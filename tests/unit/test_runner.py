"""LocalRunner's session settings (no JVM: the session start is replaced)."""

from __future__ import annotations

import pytest

import ivory.s3a
import ivory.spark
from ivory.runner import LocalRunner


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    calls: list[dict[str, str]] = []
    monkeypatch.setattr(ivory.spark, "start_local_session",
                        lambda settings: calls.append(dict(settings)) or object())
    monkeypatch.setattr(ivory.s3a, "s3a_settings", lambda: {"s3a": "on"})
    return calls


def test_a_chord_with_s3_outputs_starts_the_seed_snapshot_session_with_s3a(
        started: list[dict[str, str]]) -> None:
    """§10: the seed snapshot runs first with no S3 location in its plan; the chord plan
    after it writes to S3 on the same session, so s3a must be there from the start."""
    runner = LocalRunner(show_progress=False)
    runner.expect_locations(["file:///tmp/x", "s3://bucket/chord"])
    runner._session(needs_s3a=False)
    assert started == [{"s3a": "on"}]


def test_no_s3_location_no_s3a(started: list[dict[str, str]]) -> None:
    runner = LocalRunner(show_progress=False)
    runner.expect_locations(["file:///tmp/x", "hdfs:///y"])
    runner._session(needs_s3a=False)
    assert started == [{}]
