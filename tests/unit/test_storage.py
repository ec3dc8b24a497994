"""Storage backends against the shared contract (D1.1, D1.2), plus backend specifics."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ivory.errors import KeyNotFoundError, StorageError
from ivory.storage import MemoryStorage, PosixStorage, PrefixedStorage, open_storage
from ivory.storage.base import ListEntry, check_key, check_prefix

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.contracts import StorageContract, keys


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> MemoryStorage:
        return MemoryStorage()


class TestPrefixedMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> PrefixedStorage:
        base = MemoryStorage()
        base.write("outside", b"not visible")
        base.write("some/prefiy", b"not visible either")
        view = base.child("some/prefix")
        assert isinstance(view, PrefixedStorage)
        return view


class TestPosixStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> PosixStorage:
        return PosixStorage(tmp_path / "root")


def test_check_key_accepts_ordinary_keys() -> None:
    for key in ["a", "metadata/store/00000001/value", ".hidden/_x", "a..b/c.d"]:
        assert check_key(key) == key
    for prefix in ["", "a", "a/", "a/b", "a/.", "a/.."]:
        assert check_prefix(prefix) == prefix


def test_memory_is_not_reachable_from_spark() -> None:
    with pytest.raises(StorageError, match="memory storage is not reachable from Spark"):
        MemoryStorage("m").uri()


class TestOpenStorage:
    def test_memory_names_share_data(self) -> None:
        first = open_storage("memory://shared-test")
        first.write("k", b"v")
        assert open_storage("memory://shared-test").read("k") == b"v"
        assert open_storage("memory://shared-test/").read("k") == b"v"
        assert open_storage("memory://other-test").exists("k") is False
        assert first.describe() == "memory://shared-test"

    def test_memory_with_prefix(self) -> None:
        open_storage("memory://prefixed-test/repo/meta").write("k", b"v")
        assert open_storage("memory://prefixed-test").read("repo/meta/k") == b"v"

    def test_file_uri_and_plain_paths(self, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        by_uri = open_storage(f"file://{tmp_path}")
        assert isinstance(by_uri, PosixStorage) and by_uri.root == str(tmp_path)
        assert open_storage(str(tmp_path)).root == str(tmp_path)
        assert open_storage(f"FILE://{tmp_path}").root == str(tmp_path)
        monkeypatch.chdir(tmp_path)
        relative = open_storage("repo")
        assert relative.describe() == str(tmp_path / "repo")
        relative.write("x", b"1")
        assert (tmp_path / "repo" / "x").read_bytes() == b"1"
        monkeypatch.setenv("HOME", str(tmp_path))
        assert open_storage("~/repo").read("x") == b"1"

    @pytest.mark.parametrize(("location", "kind", "uri"), [
        ("s3://bucket/repo", "S3Storage", "s3a://bucket/repo/k"),
        ("s3a://bucket/repo", "S3Storage", "s3a://bucket/repo/k"),
        ("hdfs://namenode:8020/repo", "HdfsStorage", "hdfs://namenode:8020/repo/k"),
    ])
    def test_remote_backends_open_lazily(self, location: str, kind: str, uri: str) -> None:
        """D1.1: s3 and hdfs locations open their backend without any request."""
        storage = open_storage(location)
        assert type(storage).__name__ == kind
        assert storage.uri("k") == uri

    @pytest.mark.parametrize("location", ["", "ftp://host/x", "file://relative/x", "memory://"])
    def test_bad_locations(self, location: str) -> None:
        with pytest.raises(StorageError):
            open_storage(location)


class TestPosixSpecifics:
    def test_layout_and_uri(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path)
        storage.write("metadata/store/00000000/value", b"v")
        assert (tmp_path / "metadata/store/00000000/value").read_bytes() == b"v"
        assert storage.uri("factsets/f1") == f"file://{tmp_path}/factsets/f1"
        assert storage.uri() == f"file://{tmp_path}"
        assert storage.describe() == str(tmp_path)
        child = storage.child("metadata/")
        assert isinstance(child, PosixStorage) and child.root == str(tmp_path / "metadata")
        assert open_storage(storage.uri("metadata")).read("store/00000000/value") == b"v"

    def test_missing_root(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path / "not" / "yet")
        assert list(storage.list("")) == []
        with pytest.raises(KeyNotFoundError):
            storage.read("x")
        storage.create_if_absent("x", b"1")
        assert (tmp_path / "not/yet/x").read_bytes() == b"1"

    def test_hidden_files_are_listed(self, tmp_path: Path) -> None:
        (tmp_path / ".hidden").write_bytes(b"h")
        (tmp_path / "_SUCCESS").write_bytes(b"")
        assert keys(PosixStorage(tmp_path).list("")) == [".hidden", "_SUCCESS"]

    def test_symlinks(self, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(b"s")
        root = tmp_path / "root"
        (root / "d").mkdir(parents=True)
        (root / "d" / "f").write_bytes(b"f")
        (root / "out").symlink_to(outside)
        (root / "out-file").symlink_to(outside / "secret")
        (root / "in").symlink_to(root / "d")
        (root / "d" / "loop").symlink_to(root / "d")
        storage = PosixStorage(root)
        assert keys(storage.list("")) == ["d/", "in/"]
        assert keys(storage.list("", None)) == ["d/f", "in/f"]
        assert keys(storage.list("out/", None)) == []
        assert keys(storage.list("d/")) == ["d/f", "d/loop/"]

    def test_directories_pruned_after_delete(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path)
        storage.write("a/b/c/d", b"x")
        storage.write("a/e", b"x")
        storage.delete("a/b/c/d")
        assert sorted(os.listdir(tmp_path / "a")) == ["e"]
        storage.delete("a/e")
        assert os.listdir(tmp_path) == []

    def test_parent_is_a_file(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path)
        storage.write("a", b"x")
        with pytest.raises(StorageError, match="cannot write 'a/b'"):
            storage.write("a/b", b"y")
        with pytest.raises(StorageError):
            storage.create_if_absent("a/b", b"y")
        assert not storage.exists("a/b")

    def test_create_if_absent_on_a_directory(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path)
        storage.write("d/x", b"x")
        with pytest.raises(StorageError, match="is a directory"):
            storage.create_if_absent("d", b"y")

    def test_list_entries_carry_sizes(self, tmp_path: Path) -> None:
        storage = PosixStorage(tmp_path)
        storage.write("p/x", b"123")
        assert list(storage.list("p/")) == [ListEntry("p/x", 3, False)]
