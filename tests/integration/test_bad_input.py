"""Bad input (D5.3, §5.4, §3.4): truncated, binary, enormous-line and wrongly encoded files
for ingest and import-dictionary, malformed metadata values, and bad keys. Each gets a clear
error naming the file (or key) and the reason; the committed state and the metadata listing
are unchanged (ingest: bad lines become error records and good lines still land)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ivory.cli import main
from ivory.debug import cat_errors
from ivory.dictionaries import import_dictionary
from ivory.errors import IvoryError, MetadataError, StorageError
from ivory.ingest import ingest
from ivory.metadata import MetadataStore, Version
from ivory.repository import Repository
from ivory.storage import PosixStorage
from ivory.verify import verify_repository

DICTIONARY = "fish:weight|encoding=double\nfish:name|encoding=string\n"
GOOD = "E1|weight|1.5|2014-01-01\nE2|name|Nemo|2014-01-02\n"
BIG_LINE_BYTES = 50 * 1024 * 1024


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)
    monkeypatch.setenv("IVORY_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def repo(tmp_path: Path) -> str:
    location = str(tmp_path / "repo")
    repository, _ = Repository.create(location, "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    return location


def metadata_listing(location: str) -> list[tuple[str, int | None]]:
    return sorted((e.key, e.size) for e in PosixStorage(location).list("metadata/", None))


def unchanged(location: str, before: list[tuple[str, int | None]]) -> None:
    assert metadata_listing(location) == before
    assert verify_repository(Repository.open(location)).ok


# -- import-dictionary ---------------------------------------------------------------------------

BAD_DICTIONARIES = {
    "truncated": b"fish:weight|encoding=double\nfish:name|encod",
    "binary": bytes(range(256)) * 4,
    "latin-1": "fish:weight|encoding=double|description=poids en kilogrammes, pêché\n"
               .encode("latin-1"),
    "utf-16": DICTIONARY.encode("utf-16"),
    "enormous-line": b"fish:weight|encoding=" + b"x" * BIG_LINE_BYTES,
    "bad-namespace": b"fish:weight|encoding=double\nfi/sh:name|encoding=string\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_DICTIONARIES))
def test_bad_dictionary_files_are_refused_by_name_section_3_4(
        repo: str, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{kind}.psv"
    path.write_bytes(BAD_DICTIONARIES[kind])
    before = metadata_listing(repo)
    status = main(["import-dictionary", "-r", repo, "-p", str(path)])
    captured = capsys.readouterr()
    assert status == 1, captured
    output = captured.out + captured.err
    assert str(path) in output or path.name in output, output[:500]
    assert len(output) < 5000, "the error is a clear line, not the input echoed back"
    reasons = {"truncated": "Line 2", "binary": "UTF-8", "latin-1": "UTF-8", "utf-16": "UTF-8",
               "enormous-line": "Line 1", "bad-namespace": "Line 2"}
    assert reasons[kind] in output, output[:500]
    unchanged(repo, before)


def test_feature_names_are_not_validated_section_1_2(repo: str, tmp_path: Path) -> None:
    """``/``, ``..`` and spaces in a feature *name* are accepted verbatim (§1.2: the name is
    anything up to the next ``|``); they never become storage or metadata keys."""
    text = "fish:we/ight|encoding=double\nfish:..|encoding=string\nfish:a b|encoding=string\n"
    import_dictionary(Repository.open(repo), [("d.psv", text)])
    names = sorted(str(d.feature) for d in Repository.open(repo).dictionary().definitions)
    assert names == ["fish:..", "fish:a b", "fish:we/ight"]
    assert verify_repository(Repository.open(repo)).ok


# -- ingest --------------------------------------------------------------------------------------

BAD_FACTS = {
    "truncated": b"E3|weight|2.5|2014-01-03\nE4|weight|3.5|2014-0",
    "binary": bytes(range(256)) * 16,
    "latin-1": "E5|name|Zo\u00eb|2014-01-05\n".encode("latin-1"),
    "utf-16": "E6|weight|6.5|2014-01-06\n".encode("utf-16"),
    "bad-keys": b"a/b|weight|1|2014-01-01\n..|weight|2|2014-01-01\n"
                b"with space|weight|3|2014-01-01\n",
}


def ingest_files(repo: str, tmp_path: Path, files: dict[str, bytes], runner: object
                 ) -> tuple[str, list[str], list[str]]:
    """Ingest ``files`` (name -> bytes) under namespace ``fish``; returns the factset id, the
    ``cat-errors`` lines and the ``debug-dump-facts`` lines."""
    from ivory.debug import dump_facts

    facts = tmp_path / "facts" / "fish"
    facts.mkdir(parents=True)
    for name, data in files.items():
        (facts / name).write_bytes(data)
    result = ingest(Repository.open(repo), [f"sparse:delimited:psv={tmp_path / 'facts'}"],
                    runner)  # type: ignore[arg-type]
    assert result.committed
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.extend(text.rstrip("\n").split("\n"))  # binary lines hold \x0c, \x85...

    if result.errors:
        cat_errors([f"{repo}/errors/{result.factset_id}/*"], "|", Out())  # type: ignore[arg-type]
    dumped = list(dump_facts(Repository.open(repo), [result.factset_id], [], [], []))
    return result.factset_id, lines, dumped


@pytest.mark.slow
def test_bad_fact_files_become_error_records_and_good_lines_land_section_5_4(
        repo: str, tmp_path: Path, local_runner: object) -> None:
    """One ingest of a good file beside truncated, binary, UTF-16 and odd-key files: the good
    lines are facts, each bad line is an error record (readable by ``cat-errors`` even when
    its bytes are not UTF-8) with the reason; the repository verifies."""
    files = {"good.psv": GOOD.encode(), **{f"{k}.psv": v for k, v in BAD_FACTS.items()
                                           if k != "latin-1"}}
    _, errors, dumped = ingest_files(repo, tmp_path, files, local_runner)
    entities = {line.split("|")[0] for line in dumped}
    assert {"E1", "E2", "E3"} <= entities, dumped
    assert {"a/b", "..", "with space"} <= entities, "entities are opaque strings (§1.2)"
    assert "E4" not in entities and "E6" not in entities
    assert any(line.startswith("E4|weight|3.5|2014-0|") for line in errors), errors[:5]
    assert any("\\x" in line for line in errors), "binary and UTF-16 lines are shown escaped"
    assert len(errors) >= 1 + 2, errors[:5]  # truncated + binary + UTF-16 lines
    assert all(len(line.split("|")[-1]) > 0 for line in errors), "every record has a reason"
    assert verify_repository(Repository.open(repo)).ok


@pytest.mark.slow
def test_a_latin_1_line_is_an_error_record_not_a_fact_section_5_4(
        repo: str, tmp_path: Path, local_runner: object) -> None:
    files = {"good.psv": GOOD.encode(), "latin-1.psv": BAD_FACTS["latin-1"]}
    _, errors, dumped = ingest_files(repo, tmp_path, files, local_runner)
    assert not any(line.startswith("E5|") for line in dumped), dumped
    assert any("latin-1.psv" in line or "E5|" in line for line in errors)


@pytest.mark.slow
def test_an_enormous_line_is_an_error_record_section_5_4(repo: str, tmp_path: Path,
                                                        local_runner: object) -> None:
    facts = tmp_path / "facts" / "fish"
    facts.mkdir(parents=True)
    (facts / "good.psv").write_text(GOOD)
    with open(facts / "enormous.psv", "wb") as handle:
        handle.write(b"E9|name|" + b"x" * BIG_LINE_BYTES + b"\n")
    result = ingest(Repository.open(repo), [f"sparse:delimited:psv={tmp_path / 'facts'}"],
                    local_runner)  # type: ignore[arg-type]
    assert result.committed and result.facts == 2 and result.errors == 1
    assert verify_repository(Repository.open(repo)).ok


def test_ingest_of_a_missing_or_empty_input_names_it_section_5_1(repo: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    before = metadata_listing(repo)
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "missing", tmp_path / "empty"):
        assert main(["ingest", "-r", repo, "-i", f"sparse:delimited:psv={path}"]) == 1
        assert str(path) in capsys.readouterr().err
    unchanged(repo, before)


# -- malformed metadata values and keys --------------------------------------------------------

GARBAGE = {
    "config": b"\x00\xffnot json",
    "store": b"\xff\xfe garbage\n",
    "dictionary": b"\x01\x02\x03 not thrift",
    "snapshots": b"00000000 not-a-date\n",
}


@pytest.mark.parametrize("key", sorted(GARBAGE))
def test_garbage_in_a_metadata_value_is_a_clear_error_d2_1(
        repo: str, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A pinned value replaced with garbage (by hand or by a broken tool): commands fail with
    one line naming what is malformed, and commit nothing."""
    repository = Repository.open(repo)
    state = repository.state()
    path = Path(repo) / "metadata" / key / str(state.pins[key]) / "value"
    path.write_bytes(GARBAGE[key])
    before = metadata_listing(repo)
    commands = {
        "config": ["config"],
        "store": ["ls"],
        "dictionary": ["cat-dictionary"],
        "snapshots": ["ls"],
    }
    status = main([*commands[key], "-r", repo])
    err = capsys.readouterr().err
    assert status == 1
    err = "\n".join(line for line in err.splitlines()
                    if not re.match(r"ivory \S+ \S+: repository ", line))  # the banner
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    words = {"config": "config", "store": "store", "dictionary": "dictionary",
             "snapshots": "snapshot"}
    assert words[key] in err.lower(), err
    assert metadata_listing(repo) == before


@pytest.mark.parametrize("key", ["a/b", "..", "has space", "a/../b", ""])
def test_bad_metadata_and_storage_keys_are_refused_d2_1(tmp_path: Path, key: str) -> None:
    store = MetadataStore(PosixStorage(str(tmp_path)), cache=None)
    with pytest.raises(MetadataError, match="invalid metadata key"):
        store.create(key, Version(0), b"x")
    with pytest.raises(MetadataError, match="invalid metadata key"):
        store.head(key)
    if key in ("..", "a/../b", ""):
        with pytest.raises(StorageError, match="invalid storage key"):
            PosixStorage(str(tmp_path)).write(key, b"x")
    assert list(PosixStorage(str(tmp_path)).list("", None)) == []


def test_a_manifest_with_garbage_fails_verify_clearly_d5_3(repo: str, tmp_path: Path) -> None:
    repository = Repository.open(repo)
    repository.metadata.create("manifest-factset-00000000", Version(0), b"\xff\x00garbage")
    with pytest.raises(IvoryError, match="malformed manifest"):
        repository.read_manifest("factset", "00000000")
    assert os.path.exists(Path(repo) / "metadata" / "manifest-factset-00000000")
