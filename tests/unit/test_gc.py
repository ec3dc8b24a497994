"""``ivory gc`` (D5.2): unpublished data past the grace period and expired data past the
retention period are deleted, nothing a retained repository version names is. Posix, no
Spark; ages are simulated with ``os.utime``."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

import ivory.gc as gc
from ivory.cli import main
from ivory.errors import UsageError
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import RepositoryState
from ivory.repository import STORE_KEY, Repository, parse_store, render_store

HOUR = 3600.0
DAY = 24 * HOUR
GRACE, RETAIN = 24 * HOUR, 30 * DAY


@pytest.fixture(autouse=True)
def _no_repository_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    repository, _ = Repository.create(str(tmp_path / "repo"))
    return repository


def root(repository: Repository) -> Path:
    return Path(repository.data.root)  # type: ignore[attr-defined]


def write_factset(repository: Repository, errors: bool = False) -> str:
    object_id = repository.allocate("factsets")
    data = b"parquet bytes"
    repository.data.write(f"factsets/{object_id}/ns/2014/06/02/part-0.parquet", data)
    if errors:
        repository.data.write(f"errors/{object_id}/part-0.parquet", b"bad line")
    repository.write_manifest(Manifest("factset", object_id, (
        ManifestFile("ns/2014/06/02/part-0.parquet", len(data), hashlib.md5(data).hexdigest()),
    ), 1))
    return object_id


def set_store(repository: Repository, factsets: list[str]) -> None:
    repository.commit(lambda _: {STORE_KEY: render_store(factsets)})


def publish(repository: Repository, factset_id: str) -> None:
    def prepend(current: RepositoryState) -> dict[str, bytes]:
        return {STORE_KEY: render_store([factset_id, *parse_store(current.read(STORE_KEY))])}

    repository.commit(prepend)


def make_old(path: Path, seconds: float) -> None:
    """Set the mtime of ``path`` (and every file under it) to ``seconds`` ago."""
    when = time.time() - seconds
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        os.utime(f, (when, when))


def age_everything(repository: Repository, seconds: float) -> None:
    make_old(root(repository), seconds)


def exists(repository: Repository, kind: str, object_id: str) -> bool:
    """Whether the directory still holds anything but gc's markers."""
    keys = [e.key for e in repository.data.list(f"{kind}/{object_id}/", None)]
    return any(not k.endswith((gc.ALLOCATED, gc.TOMBSTONE)) for k in keys)


def run(repository: Repository, dry_run: bool = False, grace: float = GRACE,
        retain: float = RETAIN) -> tuple[gc.GcReport, list[str]]:
    lines: list[str] = []
    report = gc.collect_garbage(repository, grace, retain, dry_run=dry_run, echo=lines.append)
    return report, lines


def test_parse_duration() -> None:
    assert gc.parse_duration("24h") == 24 * HOUR
    assert gc.parse_duration("30d") == 30 * DAY
    assert gc.parse_duration("90m") == 90 * 60
    assert gc.parse_duration("0s") == 0
    for bad in ("", "24", "h", "1y", "-1h", "1 h x"):
        with pytest.raises(UsageError, match=repr(bad).replace("(", r"\(")):
            gc.parse_duration(bad)


def test_dry_run_lists_and_deletes_nothing(repo: Repository) -> None:
    published = write_factset(repo)
    publish(repo, published)
    old = write_factset(repo, errors=True)
    age_everything(repo, 2 * DAY)
    young = write_factset(repo)
    report, lines = run(repo, dry_run=True)
    assert [(c.kind, c.object_id, c.state) for c in report.candidates] == [
        ("factset", old, "unpublished"), ("errors", old, "unpublished")]
    assert lines[0].startswith(f"would delete factset {old} (unpublished, ")
    assert lines[0].endswith("bytes, age 48h)")
    assert not report.deleted
    for object_id in (published, old, young):
        assert exists(repo, "factsets", object_id)
    assert exists(repo, "errors", old)
    assert repo.read_manifest("factset", old) is not None


def test_old_unpublished_deleted_young_kept(repo: Repository) -> None:
    old = write_factset(repo, errors=True)
    age_everything(repo, 2 * DAY)
    young = write_factset(repo)
    report, lines = run(repo)
    assert [c.object_id for c in report.deleted] == [old, old]
    assert lines[0].startswith(f"deleted factset {old} (unpublished")
    assert not exists(repo, "factsets", old)
    assert not exists(repo, "errors", old)
    assert repo.read_manifest("factset", old) is None
    assert exists(repo, "factsets", young)
    # the tombstone keeps the id from being allocated again; a second run does nothing
    assert repo.allocate("factsets") not in (old, young)
    assert run(repo)[0].candidates == []


def test_unpublished_with_a_recent_file_is_kept(repo: Repository) -> None:
    factset = write_factset(repo)
    age_everything(repo, 2 * DAY)
    repo.data.write(f"factsets/{factset}/ns/2014/06/03/part-1.parquet", b"still writing")
    assert run(repo)[0].candidates == []


def test_expired_deleted_after_retention(repo: Repository) -> None:
    gone, kept = write_factset(repo), write_factset(repo)
    set_store(repo, [gone, kept])
    set_store(repo, [kept])  # gone expires
    age_everything(repo, 40 * DAY)
    report, _ = run(repo)
    assert [(c.object_id, c.state) for c in report.deleted] == [(gone, "expired")]
    assert not exists(repo, "factsets", gone)
    assert exists(repo, "factsets", kept)


def test_expired_kept_while_a_retained_version_names_it(repo: Repository) -> None:
    gone, kept = write_factset(repo), write_factset(repo)
    set_store(repo, [gone, kept])
    set_store(repo, [kept])
    age_everything(repo, 40 * DAY)
    # the version that still names `gone` is within the retention period
    named = repo.metadata.versions("repository")[-2]
    make_old(root(repo) / "metadata" / "repository" / str(named) / "value", 1 * DAY)
    assert run(repo)[0].candidates == []
    assert exists(repo, "factsets", gone)
    # expired but its files are younger than the retention period: kept too
    make_old(root(repo) / "metadata" / "repository" / str(named) / "value", 40 * DAY)
    make_old(root(repo) / "factsets" / gone, 10 * DAY)
    assert run(repo)[0].candidates == []


def test_published_never_deleted(repo: Repository) -> None:
    factset = write_factset(repo, errors=True)
    publish(repo, factset)
    age_everything(repo, 400 * DAY)
    report, _ = run(repo, grace=0, retain=0)
    assert report.candidates == []
    assert exists(repo, "factsets", factset)
    assert exists(repo, "errors", factset)


def test_published_while_gc_runs_is_kept(repo: Repository,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    racing = write_factset(repo)
    age_everything(repo, 2 * DAY)
    original = gc.newly_referenced

    def commit_first(*args, **kwargs):  # another writer commits between listing and delete
        publish(repo, racing)
        monkeypatch.setattr(gc, "newly_referenced", original)
        return original(*args, **kwargs)

    monkeypatch.setattr(gc, "newly_referenced", commit_first)
    report, lines = run(repo)
    assert [c.object_id for c in report.candidates] == [racing]
    assert report.deleted == [] and [c.object_id for c in report.skipped] == [racing]
    assert lines == [f"kept factset {racing}: committed while gc ran"]
    assert exists(repo, "factsets", racing)
    assert repo.read_manifest("factset", racing) is not None


def test_unknown_age_is_kept() -> None:
    repository, _ = Repository.create("memory://gc-unknown-age")
    write_factset(repository)
    assert run(repository, grace=0, retain=0)[0].candidates == []


def test_cli(repo: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_factset(repo)
    age_everything(repo, 2 * DAY)
    location = str(root(repo))
    assert main(["gc", "--dry-run", "-r", location]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"would delete factset {old} (unpublished")
    assert out[-1].startswith("gc: would delete 1 directories")
    assert exists(repo, "factsets", old)
    assert main(["gc", "--grace", "1d", "-r", location]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("gc: deleted 1 directories")
    assert not exists(repo, "factsets", old)
    assert main(["gc", "--grace", "soon", "-r", location]) == 1
    assert "'soon'" in capsys.readouterr().err


def test_commit_records_are_never_collected_s2_3(repo: Repository) -> None:
    """The upstream commit records (§2.3) are a view, not versioned values: an old gc with no
    grace keeps them, while an interrupted write's temporary file beside them goes."""
    publish(repo, write_factset(repo))
    commits = root(repo) / "metadata" / "commits"
    (commits / ".00000009.ivory-tmp-1a2b").write_bytes(b"torn")
    age_everything(repo, 40 * DAY)
    report, _ = run(repo, grace=0.0, retain=0.0)
    assert sorted(p.name for p in commits.iterdir()) == ["00000000", "00000001"]
    assert [v.key for v in report.metadata_deleted] == [
        "metadata/commits/.00000009.ivory-tmp-1a2b"]
    assert (commits / "00000001").read_bytes() == b"00000000\n00000001\n00000000\n"
