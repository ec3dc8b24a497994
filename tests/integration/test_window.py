"""The T: window case through the ``ivory`` command, as upstream's script runs it (§7.3,
§7.4, §8, §9.5, §10, §11.2): separate processes, repository on local disk.

Inputs and expected files: ``tests/unit/data/window`` (upstream's), including the
``mackerel`` struct feature.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.integration.test_cli_end_to_end import ivory

pytestmark = pytest.mark.slow

DATA = pathlib.Path(__file__).parents[1] / "unit" / "data" / "window"


def expected(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def parts(directory: pathlib.Path) -> list[str]:
    return [line for p in sorted(directory.iterdir()) if p.name.startswith("part-")
            for line in p.read_text().splitlines()]


def test_window_case_through_the_command_line(tmp_path):
    repo = tmp_path / "repo"
    facts = tmp_path / "input"
    for namespace in ("halibut", "expression", "filter"):
        for target in (namespace, f"{namespace}_state"):
            shutil.copytree(DATA / "facts" / namespace, facts / target)
    shutil.copytree(DATA / "facts" / "mackerel", facts / "mackerel")
    dictionary = tmp_path / "dictionary.psv"
    dictionary.write_text("".join(line + "\n" for line in expected("dictionary.psv")))
    ivory("create-repository", "-z", "Australia/Sydney", str(repo))
    ivory("import-dictionary", "-p", str(dictionary), repository=repo)
    ivory("ingest", "-i", f"sparse:delimited:psv={facts}", repository=repo)
    for n, date in enumerate(("2014-05-03", "2014-07-01")):
        ivory("snapshot", "-d", date, repository=repo)
        out = tmp_path / f"snapshot{n}"
        ivory("debug-dump-facts", "-s", f"0000000{n}", "-o", str(out), repository=repo)
        assert sorted(parts(out)) == sorted(expected(f"expected-snapshot{n}.psv"))  # §7.3
    ivory("snapshot", "-o", f"sparse:psv={tmp_path}/snapshot", "--date", "2014-07-01",
          "--sample-rate", "1", repository=repo)
    assert (tmp_path / "snapshot" / "part-m-00000").read_text().splitlines() == expected(
        "expected-snapshot.psv")  # unsorted: §8.5
    assert "5|expression|latest_two|[string]|||NA" in (
        tmp_path / "snapshot" / ".dictionary").read_text().splitlines()
    assert (tmp_path / "snapshot" / ".profile").exists()  # §9.6, --sample-rate accepted
    entities = tmp_path / "chord.psv"
    entities.write_text("ID00000000|2014-04-03\nID00000000|2014-06-03\nID00000001|2014-05-03\n")
    ivory("chord", "-o", f"sparse:psv={tmp_path}/chord", "--entities", str(entities),
          "--sample-rate", "1", repository=repo)
    chord = set(parts(tmp_path / "chord"))
    for line in ("latest_two|[]", "proportion|0.0", "count_by|{}", "inverse_num_flips|NaN",
                 "num_flips|0"):
        assert f"ID00000000:2014-04-03|expression|{line}" in chord  # §10
    ivory("debug-dump-reduction", "-e", "ID00000000", "-e", "ID00000001", "-f", "halibut:sum",
          "-f", "expression:count_by", "-f", "expression_state:num_flips",
          "-o", str(tmp_path / "dump"), "-s", "00000001", repository=repo)
    assert sorted(parts(tmp_path / "dump")) == sorted(expected("expected-dump.psv"))
