"""The T: window scenario end to end on local Spark (§7.3, §7.4, §8, §9.5, §10).

Same inputs as ``tests/unit/test_reductions_window.py`` (``tests/unit/data/window``),
including the ``mackerel`` struct feature (§4.4, §8.4 ``latest_by``). The expected files are
upstream's; ``snapshot.psv`` is compared unsorted (§8.5 order in one ``part-m-00000``).
"""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil

import pytest

from ivory.chord import chord
from ivory.debug import dump_facts
from ivory.dictionaries import import_dictionary
from ivory.dictionary import FeatureId, parse_dictionary
from ivory.ingest import ingest
from ivory.planning import parse_output_spec
from ivory.reductions import Fact, squash_snapshot
from ivory.repository import Repository
from ivory.snapshot import snapshot
from ivory.values import parse_value

pytestmark = pytest.mark.slow

DATA = pathlib.Path(__file__).parents[1] / "unit" / "data" / "window"
STATE_COPIES = {"expression": "expression_state", "filter": "filter_state",
                "halibut": "halibut_state", "mackerel": None}
D = dt.date


def dictionary_text() -> str:
    return (DATA / "dictionary.psv").read_text()


def expected(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


@pytest.fixture(scope="module")
def window_repo(tmp_path_factory, local_runner):
    tmp = tmp_path_factory.mktemp("window")
    facts = tmp / "input"
    for namespace, copy in STATE_COPIES.items():
        for target in (namespace, copy) if copy else (namespace,):
            shutil.copytree(DATA / "facts" / namespace, facts / target)
    repo, _ = Repository.create(str(tmp / "repo"), "Australia/Sydney")
    import_dictionary(repo, [("dictionary.psv", dictionary_text())])
    ingest(repo, [f"sparse:delimited:psv={facts}"], local_runner)
    return repo, tmp


def stored(repo, snapshot_id):
    return sorted(dump_facts(repo, [], [snapshot_id], [], []))


def test_snapshots_store_windowed_facts_and_extract_in_section_8_5_order(
        window_repo, local_runner):
    """§7.3 (snapshot0/1.psv), §7.4 (snapshot 1 starts from snapshot 0), §8 + §8.5
    (snapshot.psv unsorted), §9.5 (.dictionary)."""
    repo, tmp = window_repo
    first = snapshot(repo, D(2014, 5, 3), [], local_runner)
    assert stored(repo, first.snapshot_id) == sorted(
        line.replace("Snapshot[00000000]", f"Snapshot[{first.snapshot_id}]")
        for line in expected("expected-snapshot0.psv"))
    second = snapshot(repo, D(2014, 7, 1), [], local_runner)
    assert second.incremental_from == first.snapshot_id
    assert stored(repo, second.snapshot_id) == sorted(
        line.replace("Snapshot[00000001]", f"Snapshot[{second.snapshot_id}]")
        for line in expected("expected-snapshot1.psv"))
    out = tmp / "snapshot"
    third = snapshot(repo, D(2014, 7, 1), [parse_output_spec(f"sparse:psv={out}")],
                     local_runner)
    assert third.reused and third.snapshot_id == second.snapshot_id
    assert (out / "part-m-00000").read_text().splitlines() == expected("expected-snapshot.psv")
    assert [p.name for p in out.iterdir() if p.name.startswith("part-")] == ["part-m-00000"]
    dictionary = (out / ".dictionary").read_text().splitlines()
    assert "5|expression|latest_two|[string]|||NA" in dictionary  # §9.5
    assert "0|expression|count_by|()|||NA" in dictionary
    assert "16|filter|adult|long|||NA" in dictionary


def reference_chord(pairs):
    """The chord values by the pure-Python reference: a snapshot at each date (§10)."""
    dictionary = parse_dictionary(dictionary_text())
    groups: dict[tuple[str, FeatureId], list[Fact]] = {}
    for path in sorted((DATA / "facts").glob("*/*.psv")):
        copy = STATE_COPIES[path.parent.name]
        for ns in (path.parent.name, copy) if copy else (path.parent.name,):
            for line in path.read_text().splitlines():
                entity, name, raw, date = line.split("|")
                d = dictionary.concrete(FeatureId(ns, name))
                groups.setdefault((entity, FeatureId(ns, name)), []).append(
                    Fact(D.fromisoformat(date), 0, parse_value(d.encoding, raw, d.tombstones)))
    last = {}
    for entity, date in pairs:
        last[entity] = max(last.get(entity, date), date)
    out = []
    for entity, date in pairs:
        mine = {k: sorted((f for f in v if f.date <= last[entity]), key=lambda f: f.date)
                for k, v in groups.items() if k[0] == entity}
        mine = {k: v for k, v in mine.items() if v}
        for e, fid, value in squash_snapshot(dictionary, mine, date):
            out.append(f"{e}:{date.isoformat()}|{fid.namespace}|{fid.name}|{value}")
    return sorted(out)


def test_chord_with_and_without_seed_snapshot_matches_the_reference_section_10(
        window_repo, local_runner):
    """§10: every chord date of an entity with a fact is evaluated, even 2014-04-03 before
    ID00000000's expression facts (`[]`, `0.0`, `{}`, `NaN`, `0`); same with --no-snapshot."""
    repo, tmp = window_repo
    entities = tmp / "chord.psv"
    entities.write_text("ID00000000|2014-04-03\nID00000000|2014-06-03\nID00000001|2014-05-03\n")
    results = []
    for name, take in (("seeded", True), ("plain", False)):
        out = tmp / f"chord-{name}"
        chord(repo, str(entities), [parse_output_spec(f"sparse:psv={out}")],
              local_runner, take_snapshot=take)
        results.append(sorted(
            line for p in sorted(out.iterdir()) if p.name.startswith("part-")
            for line in p.read_text().splitlines()))
    assert results[0] == results[1]
    pairs = [("ID00000000", D(2014, 4, 3)), ("ID00000000", D(2014, 6, 3)),
             ("ID00000001", D(2014, 5, 3))]
    assert results[0] == reference_chord(pairs)
    early = {line for line in results[0] if line.startswith("ID00000000:2014-04-03|expression|")}
    assert "ID00000000:2014-04-03|expression|latest_two|[]" in early
    assert "ID00000000:2014-04-03|expression|proportion|0.0" in early
    assert "ID00000000:2014-04-03|expression|count_by|{}" in early
    assert "ID00000000:2014-04-03|expression|inverse_num_flips|NaN" in early
    assert "ID00000000:2014-04-03|expression|num_flips|0" in early


def test_debug_dump_reduction_replays_the_snapshot_section_11_2(window_repo, local_runner):
    """T: window dump.psv (compared sorted), through the command line handler (§11.2)."""
    from ivory.cli import main

    repo, tmp = window_repo
    taken = snapshot(repo, D(2014, 7, 1), [], local_runner)
    out = tmp / "dump"
    status = main(["debug-dump-reduction", "-r", str(tmp / "repo"), "-e", "ID00000000",
                   "-e", "ID00000001", "-f", "halibut:sum", "-f", "expression:count_by",
                   "-f", "expression_state:num_flips", "-o", str(out),
                   "-s", taken.snapshot_id])
    assert status == 0
    assert sorted((out / "part-m-00000").read_text().splitlines()) == sorted(
        expected("expected-dump.psv"))
    assert main(["debug-dump-reduction", "-r", str(tmp / "repo"), "-e", "ID00000000",
                 "-f", "halibut:nope", "-o", str(tmp / "dump2"), "-s", taken.snapshot_id]) == 1
