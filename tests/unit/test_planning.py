"""Planning (D3.1): format strings (§9.1), ingest inputs (§5.1), feature table (§1.2),
incremental snapshot planning (§7.4) and partition selection (§6, §7.2)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ivory.dictionary import Dictionary, parse_dictionary
from ivory.errors import IngestError, SnapshotError, UsageError
from ivory.manifest import Manifest, ManifestFile
from ivory.planning import (
    PLAN_STRATEGIES,
    InputSpec,
    OutputSpec,
    TextFormat,
    assign_namespaces,
    build_feature_table,
    build_ingest_plan,
    check_ingest_namespaces,
    check_snapshot_date,
    choose_snapshot,
    input_size,
    is_hidden,
    is_snapshot_usable,
    parse_file_format,
    parse_input_spec,
    parse_output_spec,
    select_partitions,
)
from ivory.repository import SnapshotRecord

D = dt.date
MD5 = "0" * 32

DICTIONARY_TEXT = """\
halibut:swiss_cheese|encoding=double|tombstone=NA,T
halibut:mean|source=halibut:swiss_cheese|expression=mean
filter_state:age|encoding=int
filter:age|encoding=int|mode=set
HALIBUT:b|encoding=string
halibut:a|encoding=(k:string,v:int*)|mode=keyed_set,k
halibut:Z|encoding=[string]
"""


@pytest.fixture
def dictionary() -> Dictionary:
    return parse_dictionary(DICTIONARY_TEXT)


# -- §9.1 format strings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("psv", TextFormat("|", False, False)),
        ("csv", TextFormat(",", False, False)),
        ("tsv", TextFormat("\t", False, False)),
        ("delimited:psv", TextFormat("|", False, False)),
        ("escaped:psv", TextFormat("|", True, False)),
        ("escaped:csv:json", TextFormat(",", True, False)),
        ("delimited:tsv:json", TextFormat("\t", False, False)),
        ("delimited:psv:deprecated", TextFormat("|", False, True)),
        ("thrift", "thrift"),
    ],
)
def test_parse_file_format_s9_1(text: str, expected: object) -> None:
    assert parse_file_format(text) == expected


@pytest.mark.parametrize(
    "text", ["", "xsv", "escaped", "escaped:thrift", "psv:xml", "psv:json:json", "PSV",
             "delimited:escaped:psv"],
)
def test_parse_file_format_rejects_s9_1(text: str) -> None:
    with pytest.raises(UsageError):
        parse_file_format(text)


def test_text_format_to_json_is_json_s9_1() -> None:
    value = TextFormat("\t", True).to_json()
    assert json.loads(json.dumps(value)) == value == {"delimiter": "\t", "escaped": True}


# -- §5.1 ingest inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sparse:psv=/data/facts", InputSpec(TextFormat(), None, "/data/facts")),
        ("sparse:delimited:psv|HALIBUT=/data/facts-2",
         InputSpec(TextFormat(), "HALIBUT", "/data/facts-2")),
        ("sparse:escaped:psv|halibut=facts", InputSpec(TextFormat("|", True), "halibut", "facts")),
        ("sparse:delimited:csv:json=/d", InputSpec(TextFormat(","), None, "/d")),
        ("sparse:tsv=/a=b", InputSpec(TextFormat("\t"), None, "/a=b")),  # split at the first =
    ],
)
def test_parse_input_spec_s5_1(text: str, expected: InputSpec) -> None:
    assert parse_input_spec(text) == expected


@pytest.mark.parametrize("text", ["dense:psv=/x", "dense:delimited:psv|halibut=/x"])
def test_parse_input_spec_dense_is_rejected_with_exact_message_s5_1(text: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_input_spec(text)
    assert str(e.value) == "Only sparse supported for ingest"


@pytest.mark.parametrize("text", ["sparse:psv:deprecated=/x",
                                  "sparse:escaped:csv:deprecated|ns=/x"])
def test_parse_input_spec_deprecated_is_rejected_with_exact_message_s5_1(text: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_input_spec(text)
    assert str(e.value) == "Only json format supported for ingest"


@pytest.mark.parametrize("text", ["sparse:psv", "sparse:psv=", "sparse=/x", "chord:psv=/x",
                                  "sparse:xsv=/x", "=/x"])
def test_parse_input_spec_malformed_s5_1(text: str) -> None:
    with pytest.raises(UsageError):
        parse_input_spec(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dense:psv=/out/dense", OutputSpec("dense", TextFormat(), "/out/dense")),
        ("sparse:psv=/out/sparse", OutputSpec("sparse", TextFormat(), "/out/sparse")),
        ("dense:escaped:psv=o", OutputSpec("dense", TextFormat("|", True), "o")),
        ("sparse:delimited:csv:json=o=1", OutputSpec("sparse", TextFormat(","), "o=1")),
        ("sparse:delimited:psv:deprecated=o",
         OutputSpec("sparse", TextFormat("|", False, True), "o")),
        ("dense:escaped:tsv:deprecated=o",
         OutputSpec("dense", TextFormat("\t", True, True), "o")),
    ],
)
def test_parse_output_spec_s9_1(text: str, expected: OutputSpec) -> None:
    assert parse_output_spec(text) == expected


@pytest.mark.parametrize("text", ["dense:psv", "dense:psv=", "chord:psv=/x", "psv=/x",
                                  "dense:xsv=/x", "dense:thrift:deprecated=/x",
                                  "sparse:psv:deprecated:json=/x"])
def test_parse_output_spec_malformed_s9_1(text: str) -> None:
    with pytest.raises(UsageError):
        parse_output_spec(text)


# -- §5.1 namespaces of input files --------------------------------------------------------


def test_is_hidden_s5_1() -> None:
    assert is_hidden(".crc") and is_hidden("_SUCCESS") and is_hidden("halibut/_tmp/x")
    assert is_hidden("a/.b") and not is_hidden("halibut/x.psv") and not is_hidden("a_b/c.d")


def test_assign_namespaces_from_top_level_directories_s5_1() -> None:
    spec = InputSpec(TextFormat(), None, "/data/facts-1")
    files = ["SAUERKRAUT/b.psv", "HALIBUT/a.psv", "HALIBUT/_SUCCESS", "HALIBUT/.a.psv.crc",
             "_logs/x.psv", ".hidden/y.psv", "_SUCCESS", "HALIBUT/2014/nested.psv"]
    assert assign_namespaces(spec, files) == {
        # The top-level directory names the namespace, also for nested files (not the
        # parent-directory QUIRK of upstream).
        "HALIBUT": ["HALIBUT/2014/nested.psv", "HALIBUT/a.psv"],
        "SAUERKRAUT": ["SAUERKRAUT/b.psv"],
    }


def test_assign_namespaces_with_explicit_namespace_s5_1() -> None:
    spec = InputSpec(TextFormat(), "halibut", "/data/facts")
    files = ["z.psv", "sub/a.psv", ".z.psv.crc", "_SUCCESS", "sub/_tmp/b.psv"]
    assert assign_namespaces(spec, files) == {"halibut": ["sub/a.psv", "z.psv"]}


def test_assign_namespaces_file_directly_in_root_without_namespace_fails_s5_1() -> None:
    spec = InputSpec(TextFormat(), None, "/data/facts")
    with pytest.raises(IngestError, match=r"/data/facts/loose\.psv"):
        assign_namespaces(spec, ["halibut/a.psv", "loose.psv"])


def test_assign_namespaces_of_nothing_is_empty_s5_1() -> None:
    assert assign_namespaces(InputSpec(TextFormat(), None, "/d"), ["_SUCCESS", ".x"]) == {}


# -- §1.2 feature table ---------------------------------------------------------------------


def test_build_feature_table_in_feature_index_order_s1_2(dictionary: Dictionary) -> None:
    rows = build_feature_table(dictionary)
    assert [(r["namespace"], r["name"]) for r in rows] == [
        ("HALIBUT", "b"),  # upper case sorts first (byte order)
        ("filter", "age"),  # (namespace, name) order: filter < filter_state
        ("filter_state", "age"),
        ("halibut", "Z"),
        ("halibut", "a"),
        ("halibut", "mean"),  # virtual features take an index too
        ("halibut", "swiss_cheese"),
    ]
    assert [r["index"] for r in rows] == list(range(7))
    by_name = {(r["namespace"], r["name"]): r for r in rows}
    assert by_name[("halibut", "swiss_cheese")] == {
        "namespace": "halibut", "name": "swiss_cheese", "index": 6, "virtual": False,
        "encoding": "double", "mode": "state", "tombstones": ["NA", "T"],
    }
    assert by_name[("halibut", "mean")]["virtual"] is True
    assert by_name[("halibut", "mean")]["encoding"] == ""
    assert by_name[("filter", "age")]["mode"] == "set"
    assert by_name[("halibut", "a")]["mode"] == "keyed_set"
    assert by_name[("halibut", "a")]["encoding"] == "(k:string,v:int*)"
    assert by_name[("halibut", "Z")]["encoding"] == "[string]"
    assert json.loads(json.dumps(rows)) == rows


def test_build_feature_table_later_definition_wins_s3_4() -> None:
    d = parse_dictionary("ns:f|encoding=int\nns:f|encoding=string\n")
    assert [(r["name"], r["encoding"]) for r in build_feature_table(d)] == [("f", "string")]


# -- §5.1 namespaces must exist -----------------------------------------------------------


def test_check_ingest_namespaces_s5_1(dictionary: Dictionary) -> None:
    check_ingest_namespaces(["halibut", "HALIBUT", "filter"], dictionary)
    check_ingest_namespaces([], dictionary)
    with pytest.raises(IngestError) as e:
        check_ingest_namespaces(["halibut", "invalid", "Filter", "invalid"], dictionary)
    assert str(e.value) == "Unknown namespaces: Filter, invalid"


# -- the ingest plan (D3.1) ---------------------------------------------------------------


def _ingest_plan(dictionary: Dictionary, inputs: list) -> dict[str, object]:
    return build_ingest_plan(
        factset_id="00000002",
        inputs=inputs,
        dictionary=dictionary,
        repository_timezone="Australia/Sydney",
        ingest_timezone="UTC",
        factset_uri="file:///repo/factsets/00000002",
        errors_uri="file:///repo/errors/00000002",
    )


def test_build_ingest_plan_is_json_serialisable_d3_1(dictionary: Dictionary) -> None:
    psv = InputSpec(TextFormat(), None, "/in")
    escaped = InputSpec(TextFormat(",", True), "halibut", "/in2")
    plan = _ingest_plan(dictionary, [
        (psv, {"filter": ["file:///in/filter/b", "file:///in/filter/a"],
               "HALIBUT": ["file:///in/HALIBUT/x"], "halibut": []}),
        (escaped, {"halibut": ["file:///in2/y"]}),
    ])
    assert json.loads(json.dumps(plan)) == plan
    assert plan["job"] == "ingest"
    assert plan["factset_id"] == "00000002"
    assert plan["repository_timezone"] == "Australia/Sydney"
    assert plan["ingest_timezone"] == "UTC"
    assert plan["output"] == {"factset": "file:///repo/factsets/00000002",
                              "errors": "file:///repo/errors/00000002"}
    assert plan["features"] == build_feature_table(dictionary)
    assert plan["inputs"] == [  # per input, namespaces sorted; empty groups left out
        {"namespace": "HALIBUT", "format": {"delimiter": "|", "escaped": False},
         "files": ["file:///in/HALIBUT/x"]},
        {"namespace": "filter", "format": {"delimiter": "|", "escaped": False},
         "files": ["file:///in/filter/b", "file:///in/filter/a"]},
        {"namespace": "halibut", "format": {"delimiter": ",", "escaped": True},
         "files": ["file:///in2/y"]},
    ]


def test_build_ingest_plan_unknown_namespace_s5_1(dictionary: Dictionary) -> None:
    spec = InputSpec(TextFormat(), "invalid", "/in")
    with pytest.raises(IngestError, match=r"^Unknown namespaces: invalid$"):
        _ingest_plan(dictionary, [(spec, {"invalid": ["file:///in/x"]})])


def test_build_ingest_plan_without_files_fails_s5_6(dictionary: Dictionary) -> None:
    spec = InputSpec(TextFormat(), "halibut", "/in")
    with pytest.raises(IngestError):
        _ingest_plan(dictionary, [(spec, {"halibut": []})])
    with pytest.raises(IngestError):
        _ingest_plan(dictionary, [])


# -- §7.4 incremental snapshots -------------------------------------------------------------

PLAIN = parse_dictionary("ns:a|encoding=int\nns:b|encoding=string\n")
PLAIN_MORE = parse_dictionary("ns:a|encoding=int\nns:b|encoding=string\nns:c|encoding=long\n")
MODE_CHANGED = parse_dictionary("ns:a|encoding=int|mode=set\nns:b|encoding=string\n")
WINDOWED = parse_dictionary(
    "ns:a|encoding=int\nns:b|encoding=string\n"
    "ns:n|source=ns:a|expression=count|window=2 months\n")


JUNE_1 = D(2014, 6, 1)


def _record(sid: str = "00000000", date: dt.date = JUNE_1, store: str = "00000001",
            dictionary: str = "00000001") -> SnapshotRecord:
    return SnapshotRecord(sid, date, store, dictionary)


def test_is_snapshot_usable_same_dictionary_s7_4() -> None:
    record = _record()
    args = dict(store=["00000002", "00000001", "00000000"], snapshot_store=["00000000"],
                dictionary_version="00000001", dictionary=WINDOWED, snapshot_dictionary=WINDOWED)
    assert is_snapshot_usable(record, D(2014, 6, 1), **args)  # S.date == D
    assert is_snapshot_usable(record, D(2014, 7, 1), **args)
    assert not is_snapshot_usable(record, D(2014, 5, 31), **args)  # S.date > D


def test_is_snapshot_usable_store_must_be_a_subset_s7_4() -> None:
    base = dict(dictionary_version="00000001", dictionary=PLAIN, snapshot_dictionary=PLAIN)
    date = D(2014, 7, 1)
    assert is_snapshot_usable(_record(), date, ["00000001", "00000000"], [], **base)
    assert is_snapshot_usable(_record(), date, ["00000001", "00000000"],
                              ["00000000", "00000001"], **base)
    assert not is_snapshot_usable(_record(), date, ["00000001"], ["00000000", "00000001"],
                                  **base)
    assert not is_snapshot_usable(_record(), date, [], ["00000000"], **base)


def test_is_snapshot_usable_other_dictionary_s7_4() -> None:
    date, store = D(2014, 7, 1), ["00000000"]
    # A new dictionary without windows and with no concrete mode change: usable.
    assert is_snapshot_usable(_record(dictionary="00000001"), date, store, store, "00000002",
                              PLAIN_MORE, PLAIN)
    # A concrete feature changed mode: not usable.
    assert not is_snapshot_usable(_record(dictionary="00000001"), date, store, store,
                                  "00000002", MODE_CHANGED, PLAIN)
    # A new 2-month window (start 2014-05-01) needs facts the old snapshot did not keep.
    assert not is_snapshot_usable(_record(dictionary="00000001"), date, store, store,
                                  "00000002", WINDOWED, PLAIN)
    # The old snapshot kept facts after 2014-04-01: enough for no window at 2014-07-01.
    assert is_snapshot_usable(_record(dictionary="00000001"), date, store, store,
                              "00000002", PLAIN, WINDOWED)


def test_choose_snapshot_strategies_s7_4() -> None:
    old_small = _record("00000000", D(2014, 5, 1))
    new_big = _record("00000001", D(2014, 6, 1))
    new_small = _record("00000002", D(2014, 6, 1))
    candidates = [(old_small, 100), (new_big, 300), (new_small, 100)]
    for strategy in ("pessimistic", "conservative"):
        # Smallest input; ties -> latest date.
        assert choose_snapshot(candidates, strategy) == new_small
        assert choose_snapshot([(old_small, 50), (new_big, 300)], strategy) == old_small
    # Optimistic: the most recent date first, whatever the size.
    assert choose_snapshot([(old_small, 1), (new_big, 300)], "optimistic") == new_big
    assert set(PLAN_STRATEGIES) == {"pessimistic", "conservative", "optimistic"}


def test_choose_snapshot_none_and_unknown_strategy_s7_4() -> None:
    for strategy in PLAN_STRATEGIES:
        assert choose_snapshot([], strategy) is None
    with pytest.raises(UsageError, match="unknown plan strategy"):
        choose_snapshot([(_record(), 1)], "reckless")


# -- §6, §7.2 partition selection -----------------------------------------------------------


def _factset_manifest(fid: str, paths_sizes: dict[str, int]) -> Manifest:
    files = tuple(ManifestFile(p, s, MD5) for p, s in sorted(paths_sizes.items()))
    return Manifest("factset", fid, files, len(files))


MANIFESTS = {
    "00000000": _factset_manifest("00000000", {
        "halibut/2014/05/01/a.parquet": 1,
        "halibut/2014/06/01/a.parquet": 2,
        "halibut/2014/06/01/b.parquet": 4,
        "sauerkraut/2014/07/02/a.parquet": 8,
    }),
    "00000001": _factset_manifest("00000001", {
        "halibut/2014/05/15/a.parquet": 16,
        "halibut/2014/07/01/a.parquet": 32,
    }),
    "00000002": _factset_manifest("00000002", {"halibut/2015/01/01/a.parquet": 64}),
}


def test_select_partitions_priority_and_date_s7_2() -> None:
    store = ["00000002", "00000001", "00000000"]  # highest priority first
    selection = select_partitions(store, MANIFESTS, D(2014, 7, 1))
    assert json.loads(json.dumps(selection)) == selection
    assert selection == [
        # 00000002 has nothing dated <= 2014-07-01: left out, but priorities keep positions.
        {"factset": "00000001", "priority": 2,
         "files": ["factsets/00000001/halibut/2014/05/15/a.parquet",
                   "factsets/00000001/halibut/2014/07/01/a.parquet"]},  # date == D included
        {"factset": "00000000", "priority": 3,
         "files": ["factsets/00000000/halibut/2014/05/01/a.parquet",
                   "factsets/00000000/halibut/2014/06/01/a.parquet",
                   "factsets/00000000/halibut/2014/06/01/b.parquet"]},
    ]
    assert input_size(selection, MANIFESTS) == 16 + 32 + 1 + 2 + 4


def test_select_partitions_priorities_are_store_positions_s6() -> None:
    selection = select_partitions(["00000000", "00000002"], MANIFESTS, D(2016, 1, 1))
    assert [(s["factset"], s["priority"]) for s in selection] == [
        ("00000000", 1), ("00000002", 2)]
    assert input_size(selection, MANIFESTS) == 1 + 2 + 4 + 8 + 64


def test_select_partitions_incremental_after_s7_4() -> None:
    """Factsets covered by the earlier snapshot (dated 2014-06-01) contribute only newer
    partitions; a factset not in its store contributes everything up to the date."""
    store = ["00000001", "00000000"]
    selection = select_partitions(store, MANIFESTS, D(2014, 7, 2), after=D(2014, 6, 1),
                                  after_only_for=frozenset({"00000000"}))
    assert selection == [
        {"factset": "00000001", "priority": 1,
         "files": ["factsets/00000001/halibut/2014/05/15/a.parquet",
                   "factsets/00000001/halibut/2014/07/01/a.parquet"]},
        {"factset": "00000000", "priority": 2,
         "files": ["factsets/00000000/sauerkraut/2014/07/02/a.parquet"]},
    ]
    assert input_size(selection, MANIFESTS) == 16 + 32 + 8


def test_select_partitions_nothing_new_s7_4() -> None:
    selection = select_partitions(["00000000"], MANIFESTS, D(2014, 6, 1), after=D(2014, 6, 1),
                                  after_only_for=frozenset({"00000000"}))
    assert selection == []
    assert input_size(selection, MANIFESTS) == 0


# -- -d yyyy-MM-dd (§7.1) -------------------------------------------------------------------


def test_check_snapshot_date_s7_1() -> None:
    assert check_snapshot_date("2014-06-02") == D(2014, 6, 2)
    assert check_snapshot_date("1600-03-01") == D(1600, 3, 1)


@pytest.mark.parametrize("text", ["", "2014-6-2", "20140602", "2014/06/02", "2014-02-30",
                                  "2014-06-02 ", "2014-06-02T00:00", "yesterday"])
def test_check_snapshot_date_rejects_s7_1(text: str) -> None:
    with pytest.raises(SnapshotError, match="expected yyyy-MM-dd"):
        check_snapshot_date(text)


def test_check_snapshot_date_rejects_iso_week_dates_s7_1() -> None:
    with pytest.raises(SnapshotError):
        check_snapshot_date("2014-W01-1")


def test_snapshot_whose_data_was_deleted_is_not_reused_s7_4(tmp_path) -> None:
    """§2/§7.4 (T: planning): a snapshot is its directory; after its files are deleted the
    same snapshot request is computed again instead of "reusing" data that is gone (which
    gave empty extracts)."""
    from ivory.dictionaries import import_dictionary
    from ivory.repository import SNAPSHOTS_KEY, Repository, parse_snapshots, render_snapshots
    from ivory.snapshot import plan_snapshot, snapshot_data_present

    repo, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repo, [("d.psv", "fish:weight|encoding=int\n")])
    state = repo.state()
    date = dt.date(2014, 6, 1)
    repo.allocate("snapshots")
    repo.data.write("snapshots/00000000/fish/part-00000", b"x")
    repo.write_manifest(Manifest(
        "snapshot", "00000000", (ManifestFile("fish/part-00000", 1, "0" * 32),), 1, date=date,
        store_version=str(state.pins["store"]),
        dictionary_version=str(state.pins["dictionary"]),
        repository_version=str(state.version)))
    record = SnapshotRecord("00000000", date, str(state.pins["store"]),
                            str(state.pins["dictionary"]))
    repo.commit(lambda current: {SNAPSHOTS_KEY: render_snapshots(
        [*parse_snapshots(current.read(SNAPSHOTS_KEY) or b""), record])})
    assert snapshot_data_present(repo, record)
    assert plan_snapshot(repo, repo.state(), date, "optimistic")[0] == record
    repo.data.delete("snapshots/00000000/fish/part-00000")
    assert not snapshot_data_present(repo, record)
    for strategy in ("optimistic", "pessimistic", "conservative"):
        reuse, partial = plan_snapshot(repo, repo.state(), date, strategy)
        assert reuse is None and partial["previous"] is None
    repo.data.delete_prefix("snapshots/")  # the whole directory, as T: planning's rm -rf
    assert repo.allocate("snapshots") == "00000001"  # 00000000's manifest is immutable
