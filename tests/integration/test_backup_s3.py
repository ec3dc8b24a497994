"""Backup and restore between posix and S3 (moto's server on 127.0.0.1) through the CLI
(D5.4), and what the local cache (D5.5) saves when opening a repository on S3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ivory.cli import main
from ivory.dictionaries import import_dictionary
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import REPOSITORY
from ivory.repository import STORE_KEY, Repository, parse_store, render_store
from ivory.storage import open_storage
from ivory.verify import verify_repository
from tests.s3server import RequestCounter

DICTIONARY = "fish:weight|encoding=double\nfish:name|encoding=string\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)
    monkeypatch.setenv("IVORY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IVORY_CACHE_BYTES", str(256 * 1024 * 1024))
    return tmp_path / "cache"


def build(location: str) -> Repository:
    repository, _ = Repository.create(location, "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    for payload in (b"one", b"two"):
        object_id = repository.allocate("factsets")
        path = "fish/2014/01/01/part-0.parquet"
        repository.data.write(f"factsets/{object_id}/{path}", payload)
        repository.write_manifest(Manifest("factset", object_id, (
            ManifestFile(path, len(payload), hashlib.md5(payload).hexdigest()),), 1))
        repository.commit(lambda s, i=object_id: {
            STORE_KEY: render_store([i, *parse_store(s.read(STORE_KEY))])})
    return Repository.open(location)


def committed(location: str) -> dict[str, bytes]:
    repository = Repository.open(location)
    state = repository.state()
    out = {REPOSITORY: str(state.version).encode()}
    out.update({k: repository.metadata.read(k, v) for k, v in state.pins.items()})
    return out


@pytest.mark.parametrize("direction", ["posix-to-s3", "s3-to-posix"])
def test_cli_backup_and_restore_across_backends_d5_4(tmp_path: Path, s3_bucket: str,
                                                      direction: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    local, remote = str(tmp_path / "repo"), f"s3://{s3_bucket}/repo"
    source, backup_at = (local, f"s3://{s3_bucket}/backup") if direction == "posix-to-s3" \
        else (remote, str(tmp_path / "backup"))
    build(source)
    target = remote.replace("/repo", "/restored") if direction == "s3-to-posix" \
        else str(tmp_path / "restored")
    assert main(["backup", "-r", source, "--data", backup_at]) == 0
    assert main(["backup", "-r", source, "--data", backup_at]) == 0  # incremental: no copy
    assert "data files 0 copied (0 bytes), 2 already there" in capsys.readouterr().out
    assert main(["restore", "-r", target, "--data", backup_at]) == 0
    assert main(["verify", "-r", target]) == 0
    assert committed(target) == committed(source)
    assert main(["restore", "-r", target, backup_at]) == 1  # not empty any more
    assert "not empty" in capsys.readouterr().err
    keys = [e.key for e in open_storage(backup_at).list("", None)]
    assert any(k.startswith("factsets/") for k in keys)


def test_the_cache_saves_requests_when_opening_a_repository_on_s3_d5_5(
        s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Opening (head, repository value, config) and reading the dictionary and the store's
    manifests: cold, then warm as another process would (a new cache object, same directory).
    Printed with -s for the report."""
    import ivory.storage.s3 as s3

    location = f"s3://{s3_bucket}/repo"
    build(location)
    client = s3.new_client()
    counter = RequestCounter(client)
    monkeypatch.setattr(s3, "new_client", lambda: client)

    def work(cold: bool) -> dict[str, int]:
        import shutil

        import ivory.cache as cache

        if cold:
            shutil.rmtree(tmp_path / "cache")
        cache._default = None  # as a new process would start
        counts = {}
        counter.clear()
        repository = Repository.open(location)
        counts["open"] = counter.total
        counter.clear()
        repository.dictionary()
        counts["dictionary"] = counter.total
        counter.clear()
        repository.store_manifests(repository.store())
        counts["store and 2 manifests"] = counter.total
        return counts

    cold, warm = work(cold=True), work(cold=False)
    print(f"\nS3 requests, cold cache: {cold}; warm cache: {warm}")
    assert warm["open"] == cold["open"] - 2, (cold, warm)  # repository value and config
    assert warm["dictionary"] == cold["dictionary"] - 1  # the dictionary value
    assert warm["store and 2 manifests"] == cold["store and 2 manifests"] - 3  # 3 values
    assert verify_repository(Repository.open(location)).ok
    assert (tmp_path / "cache").exists()


def test_restore_forgets_cached_values_of_its_target_d5_5(s3_bucket: str,
                                                          tmp_path: Path) -> None:
    """A repository deleted by hand and restored at the same location from another
    repository's backup is read fresh, not from values cached for the old one."""
    location = f"s3://{s3_bucket}/repo"
    build(location)
    assert committed(location)  # cached now
    other = build(str(tmp_path / "other"))
    import_dictionary(other, [("d.psv", "fish:colour|encoding=string\n")], update=True)
    main(["backup", "-r", str(tmp_path / "other"), str(tmp_path / "backup")])
    open_storage(location).delete_prefix("")
    assert main(["restore", "-r", location, str(tmp_path / "backup")]) == 0
    assert committed(location) == committed(str(tmp_path / "other"))
