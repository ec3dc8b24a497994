"""Benchmark ivory against reference computations on the same generated data (``scripts/bench``).

    python -m ivory.bench [--facts N] [--entities E] [--features F] [--days D]
                          [--factsets K] [--seed S] [--work DIR]

One run, one process:

1. **Generate** (numpy, seeded, vectorised) ``K`` factsets of ``long`` facts about
   ``E`` entities x ``F`` features (namespace ``bench``) dated over ``D`` days, at most one
   fact per (entity, feature, day) within a factset, written as ivory input
   (``entity|fN|value|yyyy-MM-dd`` psv under ``bench/``) and, the same rows, as Parquet for
   DuckDB; 1% more facts as one extra factset (dated up to a week later); a chord entities
   file with about ``--requests-per-entity`` (entity, date) requests per entity (default:
   the number of features, so requests ~ entity-feature pairs, 2M at 10M facts as in issue 7).
2. **ivory** on local Spark (one LocalRunner, one JVM): ``K`` ingests, a snapshot at the last
   day, the extra ingest, an incremental snapshot a week later (it must start from the first
   snapshot: ``SnapshotResult.incremental_from``), and a chord (which takes its own seed
   snapshot at the earliest request date, as ``ivory chord`` does).
3. **References** on the same data in the same run: DuckDB psv -> Parquet (for ingest),
   DuckDB ``arg_max(value, day * 256 + factset)`` snapshots, a DuckDB ASOF-join chord, and a
   plain Spark ``row_number()`` window snapshot over ivory's factset Parquet.
4. **Check** ivory's two snapshots and its chord equal DuckDB's (and the Spark window
   snapshot equals DuckDB's), as sets of (entity, feature, value) and
   (entity, date, feature, value). Any difference: exit status 1 with a message.
5. **Print** one table: wall seconds, in-job seconds (``LocalRunner.seconds``, no JVM start),
   peak RSS of this process and its children (the Spark JVM) sampled during the step, facts
   per second per core, the reference and ivory's in-job time over the reference's.

Needs ``duckdb`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NAMESPACE = "bench"
START = dt.date(2020, 1, 1)
#: The extra (incremental) factset is dated up to this many days after the last day.
EXTRA_DAYS = 7
ROWS_PER_FILE = 1_000_000


@dataclass(frozen=True)
class Config:
    facts: int = 10_000_000
    entities: int | None = None
    features: int = 20
    days: int = 60
    factsets: int = 4
    seed: int = 42
    work: str = "work/bench"
    #: Issue 7's chord has 2M (entity, date) pairs at 10M facts: one request per
    #: (entity, feature) pair, i.e. ``features`` requests per entity by default.
    requests_per_entity: float | None = None
    spark_settings: dict[str, str] = field(default_factory=dict)

    @property
    def requests_per_entity_count(self) -> float:
        """Chord requests per entity (before duplicates collapse)."""
        if self.requests_per_entity is not None:
            return self.requests_per_entity
        return float(self.features)

    @property
    def entity_count(self) -> int:
        """Entities, by default so that entities x features is about facts / 5."""
        if self.entities is not None:
            return self.entities
        return max(1, self.facts // 5 // self.features)


@dataclass
class Row:
    step: str
    wall: float
    in_job: float | None
    rss_mb: float
    facts: int
    reference: str = ""
    reference_seconds: float | None = None
    #: The issue-7 target for ``ratio`` (at or under), if any.
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        seconds = self.in_job if self.in_job is not None else self.wall
        if not self.reference_seconds:
            return None
        return seconds / self.reference_seconds


@dataclass
class BenchResult:
    rows: list[Row]
    checks: dict[str, str]  # check name -> "ok" or the problem
    facts: int
    cores: int
    seconds: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(v == "ok" for v in self.checks.values())

    @property
    def missed_targets(self) -> list[Row]:
        """Rows whose ratio is over their target (reported; the exit status only follows
        the correctness checks)."""
        return [r for r in self.rows
                if r.target is not None and r.ratio is not None and r.ratio > r.target]


# --- memory -------------------------------------------------------------------------------


class RssSampler:
    """Peak resident memory of this process plus its descendants (the Spark JVM is a live
    child, which ``getrusage(RUSAGE_CHILDREN)`` would not count until it exits), sampled from
    ``/proc``; elsewhere ``getrusage`` of self + children."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = os.path.isdir("/proc/self")
        self._page = os.sysconf("SC_PAGE_SIZE") if self._proc else 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self.peak = self.current()

    def current(self) -> int:
        if not self._proc:
            return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024
        parents: dict[int, int] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        text = f.read()
                    parents[int(name)] = int(text[text.rindex(")") + 2:].split()[1])
                except (OSError, ValueError):
                    continue
        tree = {os.getpid()}
        grown = True
        while grown:
            grown = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grown = True
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * self._page
            except (OSError, ValueError, IndexError):
                continue
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    inputs: list[str]          # psv input directories, one per factset, oldest first
    extra_input: str           # the 1% factset
    parquet: list[str]         # Parquet of the same facts, one per factset (extra last)
    counts: list[int]          # facts per factset (extra last)
    requests_psv: str
    requests_parquet: str
    requests: int
    last_day: dt.date
    extra_day: dt.date


def _day_strings(days: int) -> Any:
    import pyarrow as pa

    return pa.array([(START + dt.timedelta(days=d)).isoformat() for d in range(days)])


def _write_factset(rng: Any, n: int, cfg: Config, days: int, index: int, input_dir: str,
                   parquet_path: str) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    entities, features = cfg.entity_count, cfg.features
    pairs = entities * features
    pair = rng.integers(0, pairs, n, dtype=np.int64)
    day = rng.integers(0, days, n, dtype=np.int64)
    value = rng.integers(-1_000_000_000, 1_000_000_000, n, dtype=np.int64)
    # One fact per (entity, feature, day) in a factset: same-datetime ties inside one factset
    # are broken by the value (§7.2), which a reference need not copy.
    _, first = np.unique(pair * days + day, return_index=True)
    first.sort()
    pair, day, value = pair[first], day[first], value[first]
    entity_names = pa.array([f"E{i:08d}" for i in range(entities)])
    feature_names = pa.array([f"f{j}" for j in range(features)])
    entity_idx = pa.array(pair // features)
    feature_idx = pa.array(pair % features)
    day_arr = pa.array(day.astype(np.int32))
    date_text = pc.take(_day_strings(days), day_arr)
    psv = pa.table({
        "entity": pc.take(entity_names, entity_idx),
        "attribute": pc.take(feature_names, feature_idx),  # the namespace is the directory
        "value": pa.array(value),
        "date": date_text,
    })
    directory = os.path.join(input_dir, NAMESPACE)
    os.makedirs(directory, exist_ok=True)
    options = pacsv.WriteOptions(include_header=False, delimiter="|", quoting_style="none")
    for part, start in enumerate(range(0, len(psv), ROWS_PER_FILE)):
        pacsv.write_csv(psv.slice(start, ROWS_PER_FILE),
                        os.path.join(directory, f"part-{part:05d}.psv"), options)
    epoch = (START - dt.date(1970, 1, 1)).days
    pq.write_table(pa.table({
        "entity": psv["entity"],
        "feature": pc.take(feature_names, feature_idx),
        "value": psv["value"],
        "date": pa.array(day.astype(np.int32) + epoch, pa.int32()).cast(pa.date32()),
        "day": day_arr,
        "factset": pa.array(np.full(len(day), index, dtype=np.int16)),
    }), parquet_path)
    return len(day)


def generate(cfg: Config, work: str) -> Generated:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(cfg.seed)
    inputs, parquet, counts = [], [], []
    os.makedirs(os.path.join(work, "reference"), exist_ok=True)
    per = [cfg.facts // cfg.factsets] * cfg.factsets
    per[-1] += cfg.facts - sum(per)
    for k, n in enumerate(per):
        inputs.append(os.path.join(work, "input", f"factset-{k}"))
        parquet.append(os.path.join(work, "reference", f"facts-{k}.parquet"))
        counts.append(_write_factset(rng, n, cfg, cfg.days, k, inputs[-1], parquet[-1]))
    extra = os.path.join(work, "input", "extra")
    parquet.append(os.path.join(work, "reference", "facts-extra.parquet"))
    counts.append(_write_factset(rng, max(1, cfg.facts // 100), cfg, cfg.days + EXTRA_DAYS,
                                 cfg.factsets, extra, parquet[-1]))
    n = max(1, round(cfg.requests_per_entity_count * cfg.entity_count))
    entity = rng.integers(0, cfg.entity_count, n)
    day = rng.integers(0, cfg.days, n)
    keys = np.unique(entity * cfg.days + day)
    entity, day = keys // cfg.days, keys % cfg.days
    names = [f"E{i:08d}" for i in entity.tolist()]
    dates = [(START + dt.timedelta(days=d)).isoformat() for d in day.tolist()]
    requests_psv = os.path.join(work, "input", "entities.psv")
    with open(requests_psv, "w") as f:
        f.writelines(f"{e}|{d}\n" for e, d in zip(names, dates, strict=True))
    requests_parquet = os.path.join(work, "reference", "requests.parquet")
    pq.write_table(pa.table({"entity": names, "date": pa.array(dates).cast(pa.date32())}),
                   requests_parquet)
    return Generated(inputs, extra, parquet, counts, requests_psv, requests_parquet, len(names),
                     START + dt.timedelta(days=cfg.days - 1),
                     START + dt.timedelta(days=cfg.days + EXTRA_DAYS - 1))


# --- references ---------------------------------------------------------------------------


def _sql_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def pyarrow_ingest(input_dir: str, out: str) -> None:
    """The ingest reference of issue 7: pyarrow's multi-threaded CSV reader over one
    factset's psv files, then one Parquet file (snappy), typed like ivory's facts."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    directory = os.path.join(input_dir, NAMESPACE)
    tables = []
    for name in sorted(os.listdir(directory)):
        tables.append(pacsv.read_csv(
            os.path.join(directory, name),
            read_options=pacsv.ReadOptions(column_names=["entity", "attribute", "value",
                                                         "date"]),
            parse_options=pacsv.ParseOptions(delimiter="|", quote_char=False,
                                              escape_char=False),
            convert_options=pacsv.ConvertOptions(column_types={
                "entity": pa.string(), "attribute": pa.string(), "value": pa.int64(),
                "date": pa.date32()})))
    pq.write_table(pa.concat_tables(tables), out, compression="snappy")


def command_seconds(repository: str, dictionary_path: str) -> dict[str, float]:
    """Wall seconds of the commands that need no Spark, each a fresh ``python -m ivory``
    process as a user runs it (issue 7: under 1.5 s, never a JVM)."""
    import subprocess

    commands = {
        "--version": ["--version"],
        "config": ["config", "-r", repository],
        "cat-dictionary": ["cat-dictionary", "-r", repository],
        "import-dictionary": ["import-dictionary", "-r", repository, "-p", dictionary_path],
        "ls": ["ls", "-r", repository],
        "package": ["package", "-o", os.path.join(os.path.dirname(dictionary_path), "pkg")],
    }
    seconds = {}
    for name, args in commands.items():
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ivory", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds[name] = time.monotonic() - started
    return seconds


def duckdb_snapshot(con: Any, parquet: Sequence[str], date: dt.date, out: str) -> None:
    """Latest fact per (entity, feature) at or before ``date``, newer factset winning ties:
    one hash aggregate over an integer key packing (day, factset)."""
    con.execute(f"""
        COPY (SELECT entity, feature, arg_max(value, day::BIGINT * 256 + factset) AS value
              FROM read_parquet({_sql_list(parquet)})
              WHERE date <= DATE '{date.isoformat()}'
              GROUP BY entity, feature)
        TO '{out}' (FORMAT parquet)""")


def duckdb_chord(con: Any, parquet: Sequence[str], requests: str, latest: dt.date,
                 out: str) -> None:
    """Per (entity, request date, feature) the latest fact on or before the date: the day's
    winner per (entity, feature, day) (newest factset), then an ASOF join."""
    con.execute(f"""
        COPY (
          WITH days AS (
            SELECT entity, feature, date, arg_max(value, factset) AS value
            FROM read_parquet({_sql_list(parquet)})
            WHERE date <= DATE '{latest.isoformat()}'
            GROUP BY entity, feature, date),
          asks AS (
            SELECT r.entity, r.date AS chord_date, f.feature
            FROM read_parquet('{requests}') r
            CROSS JOIN (SELECT DISTINCT feature FROM days) f)
          SELECT a.entity, a.chord_date, a.feature, d.value
          FROM asks a ASOF JOIN days d
            ON a.entity = d.entity AND a.feature = d.feature AND a.chord_date >= d.date)
        TO '{out}' (FORMAT parquet)""")


def spark_window_snapshot(spark: SparkSession, factsets: Sequence[tuple[int, list[str]]],
                          date: dt.date, out: str) -> None:
    """The plain Spark snapshot: ``row_number()`` over (entity, feature) ordered by
    (date, seconds) descending then priority; ``factsets`` are (priority, Parquet files)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frames = [spark.read.parquet(*files).withColumn("priority", F.lit(priority))
              for priority, files in factsets]
    facts = frames[0]
    for frame in frames[1:]:
        facts = facts.unionByName(frame)
    window = Window.partitionBy("entity", "namespace", "name").orderBy(
        F.col("date").desc(), F.col("seconds").desc(), F.col("priority").asc())
    latest = (facts.where(F.col("date") <= F.lit(date))
              .withColumn("_n", F.row_number().over(window)).where("_n = 1")
              .select("entity", F.col("name").alias("feature"), F.col("long_value").alias("value")))
    latest.write.mode("overwrite").parquet(out)


# --- comparison ---------------------------------------------------------------------------


def _differences(con: Any, left: str, right: str, columns: str) -> str:
    """'ok' when the two relations hold the same set of rows, else a short description."""
    only_left = f"SELECT {columns} FROM {left} EXCEPT SELECT {columns} FROM {right}"
    only_right = f"SELECT {columns} FROM {right} EXCEPT SELECT {columns} FROM {left}"
    sizes = con.execute(
        f"SELECT (SELECT count(*) FROM {left}), (SELECT count(*) FROM {right}),"
        f" (SELECT count(*) FROM ({only_left})), (SELECT count(*) FROM ({only_right}))"
    ).fetchone()
    n_left, n_right = sizes[0], sizes[1]
    if n_left == n_right and sizes[2] == 0 and sizes[3] == 0:
        return "ok"
    sample = con.execute(f"{only_left} LIMIT 3").fetchall()
    return (f"{n_left} rows vs {n_right} in the reference; {sizes[2]} only in ivory, "
            f"{sizes[3]} only in the reference; e.g. {sample}")


def _local_paths(repository: Any, kind: str, object_id: str) -> list[str]:
    from ivory.debug import object_files

    paths = []
    for key in object_files(repository, kind, object_id):
        uri = repository.data.uri(key)
        paths.append(uri[len("file://"):] if uri.startswith("file://") else uri)
    return paths


def _text_parts(directory: str) -> list[str]:
    return sorted(
        os.path.join(directory, name) for name in os.listdir(directory)
        if not name.startswith((".", "_")) and os.path.getsize(os.path.join(directory, name)) > 0
    )


# --- the run ------------------------------------------------------------------------------


def run(cfg: Config, spark: SparkSession | None = None,
        log: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> BenchResult:
    """Generate, run ivory and the references, check, and return the measured rows."""
    import duckdb

    from ivory.chord import chord
    from ivory.dictionaries import import_dictionary
    from ivory.ingest import ingest
    from ivory.planning import parse_output_spec
    from ivory.repository import Repository
    from ivory.runner import LocalRunner
    from ivory.snapshot import snapshot

    work = os.path.abspath(cfg.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cores = os.cpu_count() or 1
    sampler = RssSampler().start()
    rows: list[Row] = []
    checks: dict[str, str] = {}
    seconds: dict[str, float] = {}
    runner = LocalRunner(spark=spark, settings=cfg.spark_settings, show_progress=False)

    @contextmanager
    def step(name: str) -> Iterator[dict[str, Any]]:
        sampler.reset()
        before = sum(v for k, v in runner.seconds.items() if k != "spark start")
        info: dict[str, Any] = {}
        log(f"... {name}")
        started = time.monotonic()
        yield info
        info["wall"] = time.monotonic() - started
        info["in_job"] = sum(v for k, v in runner.seconds.items() if k != "spark start") - before
        info["rss"] = max(sampler.peak, sampler.current()) / 2**20
        log(f"    {name}: {info['wall']:.2f} s")

    try:
        with step("generate") as g:
            data = generate(cfg, work)
        seconds["generate"] = g["wall"]
        facts = sum(data.counts[:-1])
        all_facts = sum(data.counts)
        log(f"    {facts:,} facts in {cfg.factsets} factsets + {data.counts[-1]:,} extra; "
            f"{cfg.entity_count:,} entities x {cfg.features} features; "
            f"{data.requests:,} chord requests")

        con = duckdb.connect()
        ref = os.path.join(work, "reference")
        with step("duckdb psv -> parquet") as r_ingest:
            for k, directory in enumerate(data.inputs):
                con.execute(f"""
                    COPY (SELECT * FROM read_csv('{directory}/{NAMESPACE}/*.psv', delim='|',
                          header=false, quote='', escape='',
                          columns={{'entity': 'VARCHAR', 'attribute': 'VARCHAR',
                                    'value': 'BIGINT', 'date': 'DATE'}}))
                    TO '{ref}/ingest-{k}.parquet' (FORMAT parquet)""")
        with step("pyarrow csv -> parquet") as r_arrow:
            for k, directory in enumerate(data.inputs):
                pyarrow_ingest(directory, f"{ref}/arrow-{k}.parquet")
        with step("duckdb snapshot") as r_snap:
            duckdb_snapshot(con, data.parquet[:-1], data.last_day, f"{ref}/snapshot.parquet")
        with step("duckdb incremental") as r_incr:
            duckdb_snapshot(con, data.parquet, data.extra_day, f"{ref}/incremental.parquet")
        with step("duckdb chord") as r_chord:
            # The chord runs after the extra ingest: it reads every factset.
            duckdb_chord(con, data.parquet, data.requests_parquet, data.last_day,
                         f"{ref}/chord.parquet")

        repository, _ = Repository.create(os.path.join(work, "repository"), "UTC")
        dictionary = "".join(f"{NAMESPACE}:f{j}|encoding=long\n" for j in range(cfg.features))
        import_dictionary(repository, [("bench.psv", dictionary)])
        with step("start spark") as s:
            session = runner.spark
        seconds["start spark"] = s["wall"]

        with step("ingest") as i_ingest:
            results = [ingest(repository, [f"sparse:delimited:psv={d}"], runner)
                       for d in data.inputs]
        ingested = sum(r.facts for r in results)
        if ingested != facts or any(r.errors for r in results):
            checks["ingest"] = f"ingested {ingested} facts, {sum(r.errors for r in results)} " \
                               f"errors; generated {facts}"
        else:
            checks["ingest"] = "ok"
        with step("snapshot") as i_snap:
            first = snapshot(repository, data.last_day, [], runner)
        with step("ingest 1% more") as i_extra:
            extra = ingest(repository, [f"sparse:delimited:psv={data.extra_input}"], runner)
        with step("incremental snapshot") as i_incr:
            second = snapshot(repository, data.extra_day, [], runner)
        checks["incremental"] = (
            "ok" if second.incremental_from == first.snapshot_id else
            f"the incremental snapshot started from {second.incremental_from!r}, "
            f"not from {first.snapshot_id}")
        chord_out = os.path.join(work, "output", "chord")
        with step("chord") as i_chord:
            chord(repository, data.requests_psv, [parse_output_spec(f"sparse:psv={chord_out}")],
                  runner)

        store = [r.factset_id for r in reversed(results)]  # newest first: priority 1
        factset_files = [(p + 1, _local_paths(repository, "factset", fid))
                         for p, fid in enumerate(store)]
        with step("spark window snapshot") as r_window:
            spark_window_snapshot(session, factset_files, data.last_day, f"{ref}/window")

        def facts_view(name: str, paths: list[str]) -> str:
            con.execute(f"""CREATE OR REPLACE VIEW {name} AS
                SELECT entity, name AS feature, long_value AS value
                FROM read_parquet({_sql_list(paths)}) WHERE NOT tombstone""")
            return name

        checks["snapshot"] = _differences(
            con, facts_view("ivory_snapshot", _local_paths(repository, "snapshot",
                                                           first.snapshot_id)),
            f"read_parquet('{ref}/snapshot.parquet')", "entity, feature, value")
        checks["incremental snapshot"] = _differences(
            con, facts_view("ivory_incremental", _local_paths(repository, "snapshot",
                                                              second.snapshot_id)),
            f"read_parquet('{ref}/incremental.parquet')", "entity, feature, value")
        parts = _text_parts(chord_out)
        if parts:
            con.execute(f"""CREATE OR REPLACE VIEW ivory_chord AS
                SELECT split_part(key, ':', 1) AS entity,
                       CAST(split_part(key, ':', 2) AS DATE) AS chord_date, feature, value
                FROM read_csv({_sql_list(parts)}, delim='|', header=false, quote='', escape='',
                              columns={{'key': 'VARCHAR', 'namespace': 'VARCHAR',
                                        'feature': 'VARCHAR', 'value': 'BIGINT'}})""")
        else:
            con.execute("CREATE OR REPLACE VIEW ivory_chord AS SELECT NULL::VARCHAR AS entity,"
                        " NULL::DATE AS chord_date, NULL::VARCHAR AS feature,"
                        " NULL::BIGINT AS value WHERE false")
        checks["chord"] = _differences(con, "ivory_chord", f"read_parquet('{ref}/chord.parquet')",
                                       "entity, chord_date, feature, value")
        checks["spark window = duckdb"] = _differences(
            con, f"read_parquet('{ref}/window/*.parquet')",
            f"read_parquet('{ref}/snapshot.parquet')", "entity, feature, value")
        con.close()
        dictionary_path = os.path.join(work, "bench-dictionary.psv")
        with open(dictionary_path, "w") as f:
            f.write(dictionary)
        with step("commands without spark") as c_cmd:
            command_times = command_seconds(repository.location, dictionary_path)
        seconds.update({f"command {k}": v for k, v in command_times.items()})
        slowest = max(command_times, key=command_times.__getitem__)
        c_cmd["wall"] = command_times[slowest]
    finally:
        sampler.stop()

    def row(name: str, info: dict[str, Any], n: int, ref_name: str = "",
            ref: dict[str, Any] | None = None, in_job: bool = True,
            target: float | None = None, ref_key: str = "wall") -> Row:
        return Row(name, info["wall"], info["in_job"] if in_job else None, info["rss"], n,
                   ref_name, ref[ref_key] if ref else None, target)

    rows = [
        row(f"ivory ingest x{cfg.factsets}", i_ingest, facts, "pyarrow csv->parquet", r_arrow,
            target=3.0),
        row(f"ivory ingest x{cfg.factsets}", i_ingest, facts, "duckdb psv->parquet", r_ingest),
        row("ivory snapshot", i_snap, facts, "duckdb arg_max", r_snap, target=5.0),
        row("ivory snapshot", i_snap, facts, "spark row_number", r_window),
        row("ivory ingest 1%", i_extra, extra.facts),
        row("ivory incremental snapshot", i_incr, all_facts, "duckdb arg_max", r_incr),
        row("ivory incremental snapshot", i_incr, all_facts, "ivory snapshot", i_snap,
            target=0.15, ref_key="in_job"),
        row("ivory chord (+ seed snapshot)", i_chord, all_facts, "duckdb asof join", r_chord,
            target=5.0),
        row(f"slowest command without spark ({slowest})", c_cmd, 0, "1.5 s budget",
            {"wall": 1.5}, in_job=False, target=1.0),
        row("pyarrow csv->parquet", r_arrow, facts, in_job=False),
        row("duckdb psv->parquet", r_ingest, facts, in_job=False),
        row("duckdb arg_max snapshot", r_snap, facts, in_job=False),
        row("duckdb arg_max incremental", r_incr, all_facts, in_job=False),
        row("duckdb asof chord", r_chord, all_facts, in_job=False),
        row("spark row_number snapshot", r_window, facts, in_job=False),
    ]
    return BenchResult(rows, checks, facts, cores, seconds)


def _times(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio < 1 else f"{ratio:.1f}x"


def render(result: BenchResult, cfg: Config, markdown: bool = False) -> str:
    """The result table (plain text, or Markdown with ``markdown``)."""
    header = ["step", "wall s", "in-job s", "peak RSS MB", "facts/s/core", "reference",
              "ratio", "target"]
    lines = []
    for r in result.rows:
        busy = r.in_job if r.in_job is not None else r.wall
        rate = r.facts / busy / result.cores if busy > 0 else 0.0
        lines.append([
            r.step, f"{r.wall:.2f}", f"{r.in_job:.2f}" if r.in_job is not None else "-",
            f"{r.rss_mb:,.0f}", f"{rate:,.0f}", r.reference or "-",
            _times(r.ratio) if r.ratio is not None else "-",
            f"<= {_times(r.target)}" + (" MISSED" if r.ratio is not None
                                         and r.ratio > r.target else "")
            if r.target is not None else "-",
        ])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w)
                      for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
            for cells in lines]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(prog="python -m ivory.bench", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=Config.facts,
                        help="facts in the K factsets (default %(default)s)")
    parser.add_argument("--entities", type=int, default=None,
                        help="entities (default: facts / 5 / features)")
    parser.add_argument("--features", type=int, default=Config.features)
    parser.add_argument("--days", type=int, default=Config.days)
    parser.add_argument("--factsets", type=int, default=Config.factsets)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--work", default=Config.work, help="working directory (replaced)")
    parser.add_argument("--requests-per-entity", type=float,
                        default=Config.requests_per_entity,
                        help="chord (entity, date) requests per entity (default: --features)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("-D", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a Spark setting, e.g. -Dspark.driver.memory=8g")
    args = parser.parse_args(argv)
    if min(args.facts, args.features, args.days, args.factsets) < 1 or args.factsets > 255:
        parser.error("facts, features and days must be positive; factsets 1..255")
    settings = dict(s.split("=", 1) for s in args.settings)
    cfg = Config(args.facts, args.entities, args.features, args.days, args.factsets, args.seed,
                 args.work, args.requests_per_entity, settings)
    return cfg, args.markdown


def main(argv: Sequence[str] | None = None) -> int:
    cfg, markdown = parse_args(argv)
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("ivory.bench needs duckdb: pip install 'ivory[bench]' (or pip install duckdb)",
              file=sys.stderr)
        return 2
    result = run(cfg)
    print(f"{result.facts:,} facts, {cfg.entity_count:,} entities x {cfg.features} features, "
          f"{cfg.days} days, {cfg.factsets} factsets, seed {cfg.seed}; {result.cores} cores; "
          f"spark start {result.seconds.get('start spark', 0):.1f} s")
    print(render(result, cfg, markdown))
    failed = {k: v for k, v in result.checks.items() if v != "ok"}
    for name, problem in failed.items():
        print(f"MISMATCH {name}: {problem}", file=sys.stderr)
    if failed:
        return 1
    print("results equal the references: " + ", ".join(result.checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
