"""The ``ivory`` command line in-process, for the commands that need no Spark (§12, §2.1,
§3.4, §3.5, §11.1, §11.3, §11.5)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ivory import __version__
from ivory.cli import main, split_hidden_options
from ivory.schema import FACT_COLUMNS, arrow_fact_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO_ROOT.parent / "shared" / "conformance" / "invalid-dictionary" / "input"
MISSING_REPOSITORY = (
    "-r|--repository was missing or environment variable IVORY_REPOSITORY not set")
SYDNEY_CONFIG = '{\n  "version" : "v5",\n  "timezone" : "Australia/Sydney"\n}\n'

GOOD = """\
halibut:preheat|encoding=boolean|mode=state|type=categorical|description=11s|tombstone=NA
halibut:swiss_cheese|encoding=double|mode=state|type=binary|description=Gjc3K09|tombstone=NA
sauerkraut:chutney|encoding=double|mode=state|type=binary|description=tEe9GOSGH1mpDhN9SxqMuJG|tombstone=NA
"""
BAD = """\
halibut:preheat|encoding=string|type=categorical|description=11s|tombstone=NA
halibut:swiss_cheese|encoding=string|type=binary|description=Gjc3K09|tombstone=NA
"""

#: Types of the stored fact columns (ivory/jobs/columns.py docstring).
FACT_TYPES = {
    "entity": pa.string(), "namespace": pa.string(), "name": pa.string(),
    "date": pa.date32(), "seconds": pa.int32(), "tombstone": pa.bool_(),
    "boolean_value": pa.bool_(), "int_value": pa.int32(), "long_value": pa.int64(),
    "double_value": pa.float64(), "string_value": pa.string(), "date_value": pa.date32(),
    "struct_value": arrow_fact_schema().field("struct_value").type,
    "list_value": arrow_fact_schema().field("list_value").type,
}
FACT_SCHEMA = pa.schema([(c, FACT_TYPES[c]) for c in FACT_COLUMNS])
ERROR_SCHEMA = pa.schema([("line", pa.string()), ("message", pa.string()),
                          ("path", pa.string())])


@pytest.fixture(autouse=True)
def _no_repository_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVORY_REPOSITORY", raising=False)
    monkeypatch.delenv("REPOSITORY", raising=False)


@pytest.fixture
def memory_repo(capsys: pytest.CaptureFixture[str]) -> str:
    location = f"memory://test-cli-{uuid.uuid4().hex}"
    assert main(["create-repository", "-z", "Australia/Sydney", location]) == 0
    capsys.readouterr()
    return location


@pytest.fixture
def posix_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    location = tmp_path / "repo"
    assert main(["create-repository", "-z", "Australia/Sydney", str(location)]) == 0
    capsys.readouterr()
    return location


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def fact(entity: str, namespace: str, name: str, date: dt.date, seconds: int = 0,
         tombstone: bool = False, **value: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(FACT_COLUMNS)
    row.update(entity=entity, namespace=namespace, name=name, date=date, seconds=seconds,
               tombstone=tombstone, **value)
    assert set(row) == set(FACT_COLUMNS)
    return row


def write_facts(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=FACT_SCHEMA), path)


# -- general (§12.1) ------------------------------------------------------------------------


def test_version_s12_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_s12_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "create-repository" in capsys.readouterr().out


def test_unknown_command_fails_s12_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code != 0
    assert "no-such-command" in capsys.readouterr().err


def test_no_command_fails_s12_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) != 0


@pytest.mark.parametrize("argv", [["config"], ["cat-dictionary"],
                                  ["import-dictionary", "-p", "/nonexistent"],
                                  ["debug-dump-facts", "-f", "00000000"]])
def test_missing_repository_message_s12_1(argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert MISSING_REPOSITORY in captured.err
    assert captured.out == ""


def test_repository_from_environment_s12_1(memory_repo: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IVORY_REPOSITORY", memory_repo)
    assert main(["config"]) == 0
    assert capsys.readouterr().out == SYDNEY_CONFIG


def test_repository_option_beats_environment_s12_1(
        memory_repo: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IVORY_REPOSITORY", f"memory://nothing-here-{uuid.uuid4().hex}")
    assert main(["config", "-r", memory_repo]) == 0
    assert capsys.readouterr().out == SYDNEY_CONFIG
    assert main(["config"]) == 1  # the environment names no repository
    assert "not an ivory repository" in capsys.readouterr().err


def test_hidden_define_options_are_accepted_s12_1(memory_repo: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-Ddfs.block.size=16777216", "config", "-r", memory_repo, "-Da=b"]) == 0
    assert capsys.readouterr().out == SYDNEY_CONFIG
    assert split_hidden_options(["-Da=b", "config", "-Dc=d=e", "-D", "-r", "x"]) == (
        ["config", "-D", "-r", "x"], {"a": "b", "c": "d=e"})


def test_commands_import_no_pyspark_design_3() -> None:
    """Commands that need no Spark never start a JVM (style 3, §12)."""
    code = (
        "import ivory.cli, ivory.commands, ivory.debug, ivory.repository, ivory.planning, sys\n"
        "ivory.cli.main(['create-repository', 'memory://x'])\n"
        "print('pyspark' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60, check=True)
    assert result.stdout.splitlines()[-1] == "False"


# -- create-repository, config (§12.2, §2.1) --------------------------------------------------


def test_create_repository_and_config_s2_1(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    location = str(tmp_path / "repo")
    assert main(["create-repository", "-z", "Australia/Sydney", location]) == 0
    assert capsys.readouterr().out.startswith("Created configuration")
    assert (tmp_path / "repo" / ".allocated").is_file()
    assert main(["config", "-r", location]) == 0
    captured = capsys.readouterr()
    assert captured.out == SYDNEY_CONFIG  # exactly the JSON plus a newline
    # Second create: a no-op that still succeeds (§12.2).
    assert main(["create-repository", "-z", "UTC", location]) == 0
    capsys.readouterr()
    assert main(["config", "-r", location]) == 0
    assert capsys.readouterr().out == SYDNEY_CONFIG


def test_create_repository_unknown_time_zone_s12_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-repository", "-z", "Nowhere/Special", str(tmp_path / "r")]) == 1
    assert "Nowhere/Special" in capsys.readouterr().err


# -- import-dictionary, cat-dictionary (§3.4, §3.5) -------------------------------------------


def _good_and_bad(tmp_path: Path) -> tuple[str, str]:
    if (CONFORMANCE / "dictionary.psv").is_file():
        return str(CONFORMANCE / "dictionary.psv"), str(CONFORMANCE / "dictionary-bad.psv")
    return _write(tmp_path / "dictionary.psv", GOOD), _write(tmp_path / "bad.psv", BAD)


def test_import_and_cat_dictionary_s3_5(memory_repo: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    good, _ = _good_and_bad(tmp_path)
    assert main(["import-dictionary", "-r", memory_repo, "-p", good]) == 0
    assert "Successfully imported dictionary" in capsys.readouterr().out
    assert main(["cat-dictionary", "-r", memory_repo]) == 0
    out = capsys.readouterr().out
    expected = Path(good).read_text(encoding="utf-8")
    assert out == expected + "\n"  # one line per definition, then an extra blank line
    assert out.endswith("\n\n")


def test_import_dictionary_failure_s3_4(memory_repo: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """T: invalid-dictionary."""
    good, bad = _good_and_bad(tmp_path)
    assert main(["import-dictionary", "-r", memory_repo, "-p", good]) == 0
    capsys.readouterr()
    main(["cat-dictionary", "-r", memory_repo])
    before = capsys.readouterr().out
    assert before == Path(good).read_text(encoding="utf-8") + "\n"

    assert main(["import-dictionary", "-r", memory_repo, "-u", "-p", bad]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines and all(line.startswith("Encoding changed") for line in lines)
    assert "Invalid dictionary" in captured.err
    main(["cat-dictionary", "-r", memory_repo])
    assert capsys.readouterr().out == before  # unchanged

    assert main(["import-dictionary", "-r", memory_repo, "-u", "--force", "-p", bad]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Encoding changed")
    assert "Successfully imported dictionary" in out
    main(["cat-dictionary", "-r", memory_repo])
    after = capsys.readouterr().out.splitlines()
    assert ("halibut:preheat|encoding=string|mode=state|type=categorical|description=11s"
            "|tombstone=NA") in after
    # -n prints an older dictionary: version 1 is the first import.
    assert main(["cat-dictionary", "-r", memory_repo, "-n", "00000001"]) == 0
    assert capsys.readouterr().out == before


def test_import_dictionary_parse_error_s3_2(memory_repo: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "d.psv", "ns:a|encoding=int\nns:b|encoding=nope\n")
    assert main(["import-dictionary", "-r", memory_repo, "-p", path]) == 1
    assert capsys.readouterr().out.startswith("Line 2:")


def test_import_dictionary_directory_s3_2(memory_repo: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "dir" / "b.psv", "ns:b|encoding=string\n")
    _write(tmp_path / "dir" / "a.psv", "ns:a|encoding=int\n")
    _write(tmp_path / "dir" / ".hidden.psv", "this is not a dictionary\n")
    assert main(["import-dictionary", "-r", memory_repo, "-p", str(tmp_path / "dir")]) == 0
    capsys.readouterr()
    assert main(["cat-dictionary", "-r", memory_repo]) == 0
    assert capsys.readouterr().out == (
        "ns:a|encoding=int|mode=state\nns:b|encoding=string|mode=state\n\n")


# -- debug-dump-facts (§11.1) -----------------------------------------------------------------

D = dt.date


def _factsets(repo: Path) -> None:
    write_facts(repo / "factsets" / "00000000" / "halibut" / "2014" / "05" / "02" / "x.parquet", [
        fact("ID00000000", "halibut", "swiss_cheese", D(2014, 5, 2), 1, double_value=2.0),
        fact("ID00000001", "halibut", "preheat", D(2014, 5, 2), 3723,
             string_value="a\r\n\\|b"),
        fact("ID00000002", "halibut", "count", D(2014, 5, 2), 86399, tombstone=True),
        fact("ID00000000", "halibut", "small", D(2014, 5, 2), 0, double_value=1e-4),
    ])
    write_facts(repo / "factsets" / "00000000" / "HALIBUT" / "2014" / "06" / "01" / "y.parquet", [
        fact("ID00000000", "HALIBUT", "swiss_cheese", D(2014, 6, 1), 60,
             long_value=1793738965),
        fact("ID00000003", "HALIBUT", "flag", D(2014, 6, 1), 0, boolean_value=True),
    ])
    write_facts(repo / "factsets" / "00000001" / "halibut" / "2014" / "06" / "03" / "z.parquet", [
        fact("ID00000000", "halibut", "when", D(2014, 6, 3), 0, date_value=D(2014, 1, 1)),
        fact("ID00000001", "halibut", "n", D(2014, 6, 3), 0, int_value=-7),
    ])


FACTSET_0 = [
    "ID00000000|halibut|swiss_cheese|2.0|2014-05-02T00:00:01|Factset[00000000]",
    "ID00000001|halibut|preheat|a\\r\\n\\\\\\|b|2014-05-02T01:02:03|Factset[00000000]",
    "ID00000002|halibut|count|NA|2014-05-02T23:59:59|Factset[00000000]",
    "ID00000000|halibut|small|1.0E-4|2014-05-02T00:00:00|Factset[00000000]",
    "ID00000000|HALIBUT|swiss_cheese|1793738965|2014-06-01T00:01:00|Factset[00000000]",
    "ID00000003|HALIBUT|flag|true|2014-06-01T00:00:00|Factset[00000000]",
]
FACTSET_1 = [
    "ID00000000|halibut|when|2014-01-01|2014-06-03T00:00:00|Factset[00000001]",
    "ID00000001|halibut|n|-7|2014-06-03T00:00:00|Factset[00000001]",
]


def test_debug_dump_facts_line_format_s11_1(posix_repo: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _factsets(posix_repo)
    assert main(["debug-dump-facts", "-r", str(posix_repo), "-f", "00000000"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    assert sorted(out.splitlines()) == sorted(FACTSET_0)
    # The escaped value, spelled out: a CR LF \ | b -> a\r\n\\\|b (T: text-escaped).
    assert "|a\\r\\n\\\\\\|b|" in out


def test_debug_dump_facts_several_sources_and_filters_s11_1(
        posix_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _factsets(posix_repo)
    write_facts(posix_repo / "snapshots" / "00000000" / "halibut" / "part.parquet", [
        fact("ID00000000", "halibut", "swiss_cheese", D(2014, 5, 2), 1, double_value=2.0),
    ])
    repo = str(posix_repo)
    assert main(["debug-dump-facts", "-r", repo, "-f", "00000000", "-f", "00000001",
                 "-s", "00000000"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted([
        *FACTSET_0, *FACTSET_1,
        "ID00000000|halibut|swiss_cheese|2.0|2014-05-02T00:00:01|Snapshot[00000000]",
    ])
    # T: debug: -e and -a (case-sensitive namespaces) filter.
    assert main(["debug-dump-facts", "-r", repo, "-f", "00000000", "-f", "00000001",
                 "-e", "ID00000000", "-a", "HALIBUT:swiss_cheese"]) == 0
    assert capsys.readouterr().out.splitlines() == [FACTSET_0[4]]
    assert main(["debug-dump-facts", "-r", repo, "-f", "00000001", "-e", "ID00000001",
                 "-e", "ID00000000"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(FACTSET_1)


def test_debug_dump_facts_to_output_directory_s11_1(posix_repo: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _factsets(posix_repo)
    out_dir = tmp_path / "dump"
    assert main(["debug-dump-facts", "-r", str(posix_repo), "-f", "00000001",
                 "-o", str(out_dir)]) == 0
    assert capsys.readouterr().out == ""
    parts = sorted(out_dir.glob("part-m-*"))
    assert parts
    lines = [line for p in parts for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(lines) == sorted(FACTSET_1)


def test_debug_dump_facts_unknown_factset_fails_s11_1(posix_repo: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["debug-dump-facts", "-r", str(posix_repo), "-f", "00000007"]) == 1
    assert "00000007" in capsys.readouterr().err


# -- cat-errors (§11.3, §5.4) -----------------------------------------------------------------

ERROR_LINE = "ID00000001|preheat|bad|2014-06-03"
ERROR_MESSAGE = "ID00000001, preheat, bad, 2014-06-03\nValue 'bad' is not a boolean (position: 3)"


def _errors(repo: Path) -> Path:
    directory = repo / "errors" / "00000000"
    directory.mkdir(parents=True)
    rows = [{"line": ERROR_LINE, "message": ERROR_MESSAGE, "path": "file:///in/halibut/a.psv"}]
    pq.write_table(pa.Table.from_pylist(rows, schema=ERROR_SCHEMA), directory / "part-0.parquet")
    rows2 = [{"line": "e|a|v", "message": "e, a, v\nwrong field count (position: 4)",
              "path": "file:///in/halibut/b.psv"}]
    pq.write_table(pa.Table.from_pylist(rows2, schema=ERROR_SCHEMA), directory / "part-1.parquet")
    (directory / "_SUCCESS").write_bytes(b"")
    (directory / ".part-0.parquet.crc").write_bytes(b"not parquet")
    return directory


def test_cat_errors_format_s11_3(posix_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _errors(posix_repo)
    assert main(["cat-errors", f"{posix_repo}/errors/*/*"]) == 0
    assert capsys.readouterr().out == (
        "ID00000001|preheat|bad|2014-06-03|ID00000001, preheat, bad, 2014-06-03\n"
        "Value 'bad' is not a boolean (position: 3)\n"
        "e|a|v|e, a, v\nwrong field count (position: 4)\n"
    )


def test_cat_errors_delimiter_and_directory_s11_3(posix_repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    directory = _errors(posix_repo)
    assert main(["cat-errors", "-d", ",", str(directory / "part-0.parquet")]) == 0
    assert capsys.readouterr().out == f"{ERROR_LINE},{ERROR_MESSAGE}\n"
    assert main(["cat-errors", str(directory)]) == 0  # a directory: hidden files skipped
    assert capsys.readouterr().out.count("(position: ") == 2


def test_cat_errors_missing_file_fails_s11_3(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cat-errors", str(tmp_path / "nothing" / "part-0")]) == 1
    assert capsys.readouterr().err


# -- count-facts (§11.5) ----------------------------------------------------------------------


def test_count_facts_s11_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "snapshots" / "00000000"
    write_facts(snapshot / "halibut" / "part-0.parquet",
                [fact(f"ID{i:08d}", "halibut", "a", D(2014, 6, 1), int_value=i)
                 for i in range(3)])
    write_facts(snapshot / "sauerkraut" / "part-0.parquet",
                [fact(f"ID{i:08d}", "sauerkraut", "b", D(2014, 6, 1), tombstone=True)
                 for i in range(235)])
    (snapshot / ".manifest.json").write_text("{}")
    (snapshot / "_SUCCESS").write_bytes(b"")
    assert main(["count-facts", str(snapshot)]) == 0
    assert capsys.readouterr().out == "238\n"


def test_count_facts_of_non_parquet_fails_s11_5(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "dir" / "ns" / "part-0", "not parquet")
    assert main(["count-facts", str(tmp_path / "dir")]) == 1
    assert "not a Parquet data file" in capsys.readouterr().err
