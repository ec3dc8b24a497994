"""The upstream view through the CLI: commit records (§2.3, T: commits), ``.manifest.json``
in factsets and snapshots (§2.5) and ``ivory update`` (§2.6, T: update-*: ``cat-dictionary``
fails before the update and works after it)."""

from __future__ import annotations

import json

import pytest

from ivory.repository import CONFIG_KEY, Repository, RepositoryConfig
from tests.integration.test_cli_end_to_end import ivory

pytestmark = pytest.mark.slow


def test_commits_case_manifests_and_update_through_the_cli_s2_3_s2_5_s2_6(tmp_path):
    repo = tmp_path / "repo"
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "halibut.psv").write_text(
        "ID00000000|preheat|false|2014-05-02\nID00000001|swiss_cheese|0.83|2014-06-02\n")
    dictionary = tmp_path / "dictionary.psv"
    dictionary.write_text("HALIBUT:preheat|encoding=boolean\nHALIBUT:swiss_cheese|encoding=double\n")

    def record(name):
        return (repo / "metadata" / "commits" / name).read_bytes()

    ivory("create-repository", "-z", "Australia/Sydney", str(repo))
    assert record("00000000") == b"00000000\n00000000\n00000000\n"
    ivory("import-dictionary", "-p", str(dictionary), repository=repo)
    assert record("00000001") == b"00000001\n00000000\n00000000\n"
    ivory("ingest", "-i", f"sparse:delimited:psv|HALIBUT={tmp_path / 'facts'}", repository=repo)
    assert record("00000002") == b"00000001\n00000001\n00000000\n"
    ivory("import-dictionary", "-p", str(dictionary), repository=repo)
    assert record("00000003") == b"00000002\n00000001\n00000000\n"

    factset = json.loads((repo / "factsets" / "00000000" / ".manifest.json").read_text())
    assert [p["value"] for p in factset["metadata"]["partitions"]] == [
        {"name": "HALIBUT", "date": "2014-05-02"}, {"name": "HALIBUT", "date": "2014-06-02"}]
    ivory("snapshot", "-d", "2014-06-30", repository=repo)
    snapshot = json.loads((repo / "snapshots" / "00000000" / ".manifest.json").read_text())
    assert snapshot["metadata"]["commit"] == "00000003"
    stats = json.loads((repo / "snapshots" / "00000000" / ".stats").read_text())  # §2 layout
    assert list(stats) == ["version", "datetime", "fact_count"] and stats["fact_count"] > 0
    assert sorted(p.name for p in (repo / "metadata" / "commits").iterdir()) == [
        "00000000", "00000001", "00000002", "00000003"]  # a snapshot records no commit
    assert "OK" in ivory("verify", repository=repo).stdout

    old = Repository.open(str(repo))
    old.commit(lambda _: {CONFIG_KEY: RepositoryConfig("Australia/Sydney", "v2").render()
                          .encode()})
    failed = ivory("cat-dictionary", repository=repo, check=False)
    assert failed.returncode == 1 and "ivory update" in failed.stderr
    assert ivory("update", repository=repo).stdout == "Repository updated from [v2] to [v5]\n"
    assert record("00000005") == b"00000002\n00000001\n00000002\n"
    assert ivory("cat-dictionary", repository=repo).returncode == 0
    assert ivory("update", repository=repo).stdout == (
        "Repository is already at latest version [v5]\n")
