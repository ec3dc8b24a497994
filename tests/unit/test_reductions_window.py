"""The upstream T: window scenario through the pure-Python squash (§7.3, §8, §8.5, §11.2).

Inputs and expected files are in ``tests/unit/data/window`` (see its README). The expected
snapshot file is compared **unsorted**: it pins the §8.5 output order as well as every value.
"""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest

from ivory.dictionary import FeatureId, parse_dictionary
from ivory.reductions import Fact, build_groups, dump_steps, squash_snapshot
from ivory.values import parse_value

DATA = pathlib.Path(__file__).parent / "data" / "window"
DICTIONARY = parse_dictionary((DATA / "dictionary.psv").read_text(), "dictionary.psv")
STATE_COPIES = {"expression": "expression_state", "filter": "filter_state",
                "halibut": "halibut_state"}


def load_facts(end: dt.date) -> dict[tuple[str, FeatureId], list[Fact]]:
    """Facts of the case as the harness ingests them, grouped, in §7.2 order, dated <= end."""
    out: dict[tuple[str, FeatureId], list[Fact]] = {}
    for path in sorted((DATA / "facts").glob("*/*.psv")):
        namespace = path.parent.name
        for ns in (namespace, STATE_COPIES.get(namespace)):
            if ns is None:
                continue
            for line in path.read_text().splitlines():
                entity, name, raw, date = line.split("|")
                fid = FeatureId(ns, name)
                d = DICTIONARY.concrete(fid)
                assert d is not None
                day = dt.date.fromisoformat(date)
                if day <= end:
                    value = parse_value(d.encoding, raw, d.tombstones)
                    out.setdefault((entity, fid), []).append(Fact(day, 0, value))
    for facts in out.values():
        facts.sort(key=lambda f: (f.date, f.seconds))
    return out


def test_snapshot_psv_byte_for_byte_in_section_8_5_order():
    """T: window expected/snapshot.psv at 2014-07-01, unsorted (§8.2-§8.5)."""
    end = dt.date(2014, 7, 1)
    lines = [f"{e}|{f.namespace}|{f.name}|{v}"
             for e, f, v in squash_snapshot(DICTIONARY, load_facts(end), end)]
    assert lines == (DATA / "expected-snapshot.psv").read_text().splitlines()


@pytest.mark.parametrize(("feature", "entity", "value"), [
    ("halibut_state:gradient", "ID00000000", "0.01764765744974925"),  # §8.4 gradient
    ("halibut_state:latte", "ID00000000", "3"),  # §8.3 carried-in fact counts
    ("halibut:latte", "ID00000000", "2"),
    ("halibut_state:days_since_earliest", "ID00000002", "61"),  # §8.3 clamped to start
    ("expression_state:proportion", "ID00000000", "0.3333333333333333"),  # synthetic tombstone
    ("expression_state:num_flips", "ID00000000", "2"),
    ("expression_state:num_flips", "ID00000002", "2"),  # §8.4 T(synthetic),c,T
    ("expression:num_flips", "ID00000002", "1"),  # §8.4 sets: c,T
])
def test_values_quoted_by_sections_8_3_and_8_4(feature, entity, value):
    end = dt.date(2014, 7, 1)
    values = {(e, str(f)): v for e, f, v in squash_snapshot(DICTIONARY, load_facts(end), end)}
    assert values[(entity, feature)] == value


def test_null_results_are_not_emitted_section_8_2():
    """No expression_state:string for ID00000002 (latest is a tombstone), no
    halibut_state:swiss_cheese for ID00000003, no days_since_* without a fact (§8.2)."""
    end = dt.date(2014, 7, 1)
    keys = {(e, str(f)) for e, f, _ in squash_snapshot(DICTIONARY, load_facts(end), end)}
    assert ("ID00000002", "expression_state:string") not in keys
    assert ("ID00000003", "halibut_state:swiss_cheese") not in keys
    assert ("ID00000002", "halibut:days_since_latest") not in keys
    assert ("ID00000002", "halibut_state:days_since_latest") in keys
    assert not any(f in ("halibut:swiss_cheese", "filter:age", "expression:string")
                   for _, f in keys)  # set concretes are never emitted (§4.1)


def test_filter_counts_section_3_7():
    """filter:adult = or,(and,18),19,(and,(>=,20),(<,25)) counts 1, 3, 2, 0 (§3.7, §8.4)."""
    end = dt.date(2014, 7, 1)
    values = {(e, str(f)): v for e, f, v in squash_snapshot(DICTIONARY, load_facts(end), end)}
    assert [values[(f"ID0000000{i}", "filter:adult")] for i in range(4)] == ["1", "3", "2", "0"]


def test_debug_dump_reduction_lines_section_11_2():
    """T: window expected/dump.psv (compared sorted upstream)."""
    end = dt.date(2014, 7, 1)
    facts = load_facts(end)
    groups = build_groups(DICTIONARY)
    lines = []
    for entity in ("ID00000000", "ID00000001"):
        for text in ("halibut:sum", "expression:count_by", "expression_state:num_flips"):
            fid = FeatureId.parse(text)
            virtual = DICTIONARY.by_feature[fid]
            group = groups[virtual.source]
            compiled = next(v for v in group.virtuals if v.feature == fid)
            for when, value, result in dump_steps(compiled, facts[(entity, virtual.source)],
                                                  group.is_state, end):
                lines.append(f"{entity}|{fid.namespace}|{fid.name}|{when}|{value}|{result}")
    assert sorted(lines) == sorted((DATA / "expected-dump.psv").read_text().splitlines())
