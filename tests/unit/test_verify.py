"""``ivory verify`` and ``ivory ls``: integrity of published data (D5.3) and object states
(D5.1). No Spark: data files are arbitrary bytes, since verify never parses Parquet."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from ivory.cli import main
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import RepositoryState
from ivory.repository import (
    SNAPSHOTS_KEY,
    STORE_KEY,
    Repository,
    SnapshotRecord,
    parse_snapshots,
    parse_store,
    render_snapshots,
    render_store,
)
from ivory.verify import object_states, verify_repository

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_repository_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)


def write_object(repository: Repository, kind: str, files: dict[str, bytes], facts: int = 10,
                 date: dt.date | None = None) -> str:
    """Allocate a factset or snapshot, write its files and manifest (not committed)."""
    object_id = repository.allocate(f"{kind}s")
    for path, data in files.items():
        repository.data.write(f"{kind}s/{object_id}/{path}", data)
    manifest_files = tuple(ManifestFile(p, len(d), hashlib.md5(d).hexdigest())
                           for p, d in sorted(files.items()))
    repository.write_manifest(Manifest(kind, object_id, manifest_files, facts, date=date))
    return object_id


def publish_factset(repository: Repository, factset_id: str) -> None:
    """Prepend ``factset_id`` to the store, as ingest does."""
    def prepend(current: RepositoryState) -> dict[str, bytes]:
        store = parse_store(current.read(STORE_KEY) or b"")
        return {STORE_KEY: render_store([factset_id, *store])}

    repository.commit(prepend)


def publish_snapshot(repository: Repository, snapshot_id: str, date: dt.date) -> None:
    def add(current: RepositoryState) -> dict[str, bytes]:
        records = parse_snapshots(current.read(SNAPSHOTS_KEY) or b"")
        record = SnapshotRecord(snapshot_id, date, "00000000", "00000000")
        return {SNAPSHOTS_KEY: render_snapshots([*records, record])}

    repository.commit(add)


FACTSET_FILES = {
    "halibut/2014/06/02/part-00000.parquet": b"PAR1 first file" * 100,
    "halibut/2014/06/05/part-00000.parquet": b"PAR1 second file" * 50,
    "sauerkraut/2014/05/30/part-00000.parquet": b"PAR1 third",
}
SNAPSHOT_FILES = {"halibut/part-00000.parquet": b"PAR1 snapshot"}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Repository, str, str]:
    """A posix repository with one published factset and one published snapshot."""
    repository, created = Repository.create(str(tmp_path / "repo"), "Australia/Sydney")
    assert created
    factset = write_object(repository, "factset", FACTSET_FILES, facts=42)
    publish_factset(repository, factset)
    snapshot = write_object(repository, "snapshot", SNAPSHOT_FILES, facts=7,
                            date=dt.date(2014, 7, 1))
    publish_snapshot(repository, snapshot, dt.date(2014, 7, 1))
    return repository, factset, snapshot


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().out.splitlines()


def data_path(repository: Repository, key: str) -> Path:
    return Path(repository.location) / key


# -- verify ------------------------------------------------------------------------------------

def test_clean_repository_verifies_d5_3(repo: tuple[Repository, str, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    repository, _, _ = repo
    report = verify_repository(repository)
    assert report.ok and report.problems == []
    assert report.objects == 2
    assert report.files == 4
    total = sum(len(d) for d in [*FACTSET_FILES.values(), *SNAPSHOT_FILES.values()])
    assert report.bytes == total
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 0
    assert out == [f"verified 2 objects, 4 files, {total} bytes: OK"]


def test_empty_repository_verifies_d5_3(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    repository, _ = Repository.create(str(tmp_path / "empty"))
    status, out = run(capsys, "verify", "-r", repository.location)
    assert (status, out) == (0, ["verified 0 objects, 0 files, 0 bytes: OK"])


def test_missing_file_d5_3(repo: tuple[Repository, str, str],
                           capsys: pytest.CaptureFixture[str]) -> None:
    repository, factset, _ = repo
    key = f"factsets/{factset}/halibut/2014/06/02/part-00000.parquet"
    data_path(repository, key).unlink()
    report = verify_repository(repository)
    assert [(p.kind, p.path) for p in report.problems] == [("missing", key)]
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1
    assert out[0].startswith(f"missing {key}: ")
    assert out[-1].endswith(": 1 problems")


def test_truncated_file_d5_3(repo: tuple[Repository, str, str],
                             capsys: pytest.CaptureFixture[str]) -> None:
    repository, factset, _ = repo
    key = f"factsets/{factset}/halibut/2014/06/05/part-00000.parquet"
    path = data_path(repository, key)
    path.write_bytes(path.read_bytes()[:10])
    report = verify_repository(repository)
    assert [(p.kind, p.path) for p in report.problems] == [("size", key)]
    assert "10 bytes" in report.problems[0].detail
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1 and out[0].startswith(f"size {key}: ")


def test_same_size_different_bytes_is_corrupt_d5_3(repo: tuple[Repository, str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    repository, _, snapshot = repo
    key = f"snapshots/{snapshot}/halibut/part-00000.parquet"
    path = data_path(repository, key)
    original = path.read_bytes()
    path.write_bytes(original[:-1] + b"X")
    assert path.stat().st_size == len(original)
    report = verify_repository(repository)
    assert [(p.kind, p.path) for p in report.problems] == [("corrupt", key)]
    assert hashlib.md5(original).hexdigest() in report.problems[0].detail
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1 and out[0].startswith(f"corrupt {key}: MD5 ")


def test_extra_file_d5_3(repo: tuple[Repository, str, str],
                         capsys: pytest.CaptureFixture[str]) -> None:
    repository, factset, _ = repo
    key = f"factsets/{factset}/halibut/2014/06/02/part-00001.parquet"
    repository.data.write(key, b"stray")
    report = verify_repository(repository)
    assert [(p.kind, p.path) for p in report.problems] == [("extra", key)]
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1
    assert out == [f"extra {key}: 5 bytes not listed in the manifest",
                   out[-1]]
    assert out[-1].endswith(": 1 problems")


def test_hidden_files_are_ignored_d5_3(repo: tuple[Repository, str, str]) -> None:
    repository, factset, snapshot = repo
    repository.data.write(f"factsets/{factset}/halibut/2014/06/02/.part-00000.crc", b"x")
    repository.data.write(f"factsets/{factset}/_SUCCESS", b"")
    repository.data.write(f"snapshots/{snapshot}/_temporary/0/part-9.parquet", b"junk")
    assert verify_repository(repository).ok


def test_unpublished_objects_are_not_verified_d5_3(repo: tuple[Repository, str, str]) -> None:
    repository, _, _ = repo
    unpublished = repository.allocate("factsets")
    repository.data.write(f"factsets/{unpublished}/halibut/2014/01/01/part-0.parquet", b"x")
    report = verify_repository(repository)
    assert report.ok and report.objects == 2


def test_published_without_manifest_d5_3(repo: tuple[Repository, str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    repository, _, _ = repo
    factset = repository.allocate("factsets")
    publish_factset(repository, factset)
    report = verify_repository(repository)
    assert [(p.kind, p.path) for p in report.problems] == [
        ("no-manifest", f"factsets/{factset}")]
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1 and out[0].startswith(f"no-manifest factsets/{factset}: ")


def test_several_problems_are_all_reported_d5_3(repo: tuple[Repository, str, str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    repository, factset, snapshot = repo
    data_path(repository, f"factsets/{factset}/sauerkraut/2014/05/30/part-00000.parquet"
              ).unlink()
    repository.data.write(f"snapshots/{snapshot}/extra.parquet", b"12")
    status, out = run(capsys, "verify", "-r", repository.location)
    assert status == 1
    assert [line.split(" ")[0] for line in out[:-1]] == ["missing", "extra"]
    assert out[-1].endswith(": 2 problems")


# -- ls ----------------------------------------------------------------------------------------

def test_object_states_d5_1(repo: tuple[Repository, str, str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    repository, factset, snapshot = repo
    unpublished = repository.allocate("factsets")
    repository.data.write(f"factsets/{unpublished}/halibut/2015/01/01/part-0.parquet",
                          b"123456")
    expired = write_object(repository, "factset",
                           {"halibut/2013/01/01/part-0.parquet": b"old"}, facts=3)
    publish_factset(repository, expired)
    repository.commit(lambda s: {STORE_KEY: render_store([factset])})

    states = {(s.kind, s.object_id): s for s in object_states(repository)}
    assert set(states) == {("factset", factset), ("factset", unpublished),
                           ("factset", expired), ("snapshot", snapshot)}
    published = states[("factset", factset)]
    assert published.state == "published"
    assert published.size == sum(len(d) for d in FACTSET_FILES.values())
    assert published.facts == 42
    assert (published.first_date, published.last_date) == (dt.date(2014, 5, 30),
                                                            dt.date(2014, 6, 5))
    assert states[("factset", unpublished)].state == "unpublished"
    assert states[("factset", unpublished)].size == 6
    assert states[("factset", unpublished)].facts is None
    assert states[("factset", expired)].state == "expired"
    assert states[("factset", expired)].facts == 3
    snap = states[("snapshot", snapshot)]
    assert snap.state == "published"
    assert (snap.first_date, snap.last_date, snap.facts) == (dt.date(2014, 7, 1),) * 2 + (7,)

    status, out = run(capsys, "ls", "-r", repository.location)
    assert status == 0
    assert out[0].split() == ["KIND", "ID", "STATE", "SIZE", "FACTS", "DATES"]
    rows = {tuple(line.split()[:3]) for line in out[1:]}
    assert rows == {("factset", factset, "published"), ("factset", unpublished, "unpublished"),
                    ("factset", expired, "expired"), ("snapshot", snapshot, "published")}
    line = next(line for line in out if factset in line and "published" in line.split())
    assert line.split()[3:] == [str(published.size), "42", "2014-05-30..2014-06-05"]
    # an expired factset is not checked by verify (it is not published)
    assert verify_repository(repository).objects == 2


def test_allocated_but_never_committed_manifest_is_unpublished_d5_1(
        repo: tuple[Repository, str, str]) -> None:
    """A manifest alone does not publish: only a committed store does."""
    repository, _, _ = repo
    pending = write_object(repository, "factset", {"ns/2014/01/01/p.parquet": b"abc"})
    states = {s.object_id: s.state for s in object_states(repository) if s.kind == "factset"}
    assert states[pending] == "unpublished"


def test_verify_and_ls_import_no_pyspark_design_3() -> None:
    code = (
        "import ivory.cli, ivory.verify, sys\n"
        "ivory.cli.main(['create-repository', 'memory://x'])\n"
        "ivory.cli.main(['verify', '-r', 'memory://x'])\n"
        "ivory.cli.main(['ls', '-r', 'memory://x'])\n"
        "print('pyspark' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60, check=True)
    assert result.stdout.splitlines()[-1] == "False"
