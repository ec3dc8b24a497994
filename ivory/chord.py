"""Driver side of chord (§10): read the entities file, take (or reuse) the seed snapshot,
plan, run the job, verify its outputs, write the extract files.

A chord asks for each concrete feature's value per (entity, date) of an entities file, exactly
as a snapshot at that date restricted to that entity. Steps:

1. The entities file (``entity|yyyy-MM-dd`` lines) is read and checked on the driver; a bad
   line aborts with the file, line number and reason before any job runs. Duplicate pairs
   collapse. The requests travel inline in the plan up to :data:`INLINE_REQUESTS` pairs;
   beyond that the plan names the (already checked) file and the job reads it with Spark, so
   a large file must stay unchanged during the command and, on a cluster, be on storage the
   cluster can read.
2. Unless ``--no-snapshot``: the snapshot at the **earliest** chord date is taken or reused
   with the snapshot driver (:func:`ivory.snapshot.snapshot`, no outputs) and seeds the input:
   its facts (priority 32767) plus the partitions dated after it, as an incremental snapshot
   reads them (§7.4). With ``--no-snapshot`` no snapshot is created or used: every partition
   dated on or before the latest chord date is read. Both give identical results.
3. The chord job (:mod:`ivory.jobs.chord`) writes the text outputs; the driver checks each
   output received part files, then writes ``.dictionary``, ``.manifest.json`` (type
   ``extract:chord`` with ``commit``) and ``.profile`` (§9.5, §9.6). A chord commits nothing
   to the repository besides the snapshot of step 2.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivory import __version__
from ivory.dictionary import render_extract_dictionary
from ivory.errors import IvoryError, JobError, KeyNotFoundError, StorageError, UsageError
from ivory.ingest import Runner
from ivory.jobs.columns import MAX_DATE, MAX_ENTITY_LENGTH, MIN_DATE
from ivory.metadata import RepositoryState, Version
from ivory.planning import (
    OutputSpec,
    build_feature_table,
    build_squash_table,
    is_snapshot_usable,
    parse_output_spec,
    select_partitions,
)
from ivory.repository import Repository, SnapshotRecord
from ivory.snapshot import build_extract_json, check_outputs_absent, snapshot
from ivory.storage import open_storage

#: Requests up to this many pairs travel inline in the plan; more are read by the job.
INLINE_REQUESTS = 100_000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FIRST = dt.date.fromisoformat(MIN_DATE)
_LAST = dt.date.fromisoformat(MAX_DATE)


class ChordError(IvoryError):
    """A chord cannot start: a bad entities file or bad arguments (§10)."""


@dataclass(frozen=True)
class ChordRequests:
    """The checked requests of an entities file.

    Attributes:
        path: the file as given.
        uri: its storage URI (what the job reads when the requests are not inline).
        pairs: unique ``(entity, date)`` pairs, sorted.
    """

    path: str
    uri: str
    pairs: tuple[tuple[str, dt.date], ...]

    @property
    def entities(self) -> int:
        return len({entity for entity, _ in self.pairs})

    @property
    def earliest(self) -> dt.date:
        return min(date for _, date in self.pairs)

    @property
    def latest(self) -> dt.date:
        return max(date for _, date in self.pairs)


@dataclass(frozen=True)
class ChordResult:
    """What a chord did: requests and entities, their date range, the seed snapshot (None
    with ``--no-snapshot``) and whether it was reused, and the lines written per output."""

    requests: int
    entities: int
    earliest: dt.date
    latest: dt.date
    snapshot_id: str | None
    snapshot_reused: bool
    extract_lines: tuple[tuple[str, int], ...]


def parse_entities(text: str, name: str) -> list[tuple[str, dt.date]]:
    """Parse entities-file text (§10): one ``entity|yyyy-MM-dd`` per line.

    Lines end in LF or CRLF; the last line's terminator is optional. Duplicates collapse.

    Args:
        text: the file's content.
        name: the file's name for messages.

    Returns:
        Unique ``(entity, date)`` pairs, sorted.

    Raises:
        ChordError: ``entities file NAME, line N: REASON`` for the first bad line (wrong
            number of fields, empty or too long entity, malformed or unsupported date, a
            blank line, a stray carriage return), or a file without any request.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    pairs = set()
    for number, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        problem = _line_problem(line)
        if isinstance(problem, str):
            raise ChordError(f"entities file {name}, line {number}: {problem}")
        pairs.add(problem)
    if not pairs:
        raise ChordError(f"entities file {name} has no entity|yyyy-MM-dd line")
    return sorted(pairs)


def _line_problem(line: str) -> str | tuple[str, dt.date]:
    """The pair of one line, or the reason it is bad."""
    if line == "":
        return "blank line: expected entity|yyyy-MM-dd"
    if "\r" in line:
        return "carriage return inside the line: expected entity|yyyy-MM-dd"
    fields = line.split("|")
    if len(fields) != 2:
        return (f"expected 2 fields entity|yyyy-MM-dd separated by '|', found "
                f"{len(fields)} in '{line}'")
    entity, text = fields
    if entity == "":
        return "the entity is empty"
    if len(entity) > MAX_ENTITY_LENGTH:
        return f"entity id '{entity}' too large! Max length is {MAX_ENTITY_LENGTH}"
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        date = dt.date.fromisoformat(text)
    except ValueError:
        return f"invalid date '{text}': expected yyyy-MM-dd"
    if not _FIRST <= date <= _LAST:
        return f"date {text} is outside the supported range {MIN_DATE}..{MAX_DATE}"
    return entity, date


def read_entities(path: str) -> ChordRequests:
    """Read and check an entities file (a local path or a storage URI), §10.

    Raises:
        ChordError: missing, not UTF-8, or a bad line (see :func:`parse_entities`).
    """
    parent, name = posixpath.split(path.rstrip("/"))
    storage = open_storage(parent or ".")
    try:
        data = storage.read(name)
    except KeyNotFoundError as e:
        raise ChordError(f"entities file {path} does not exist") from e
    except StorageError as e:
        raise ChordError(f"entities file {path} cannot be read: {e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ChordError(f"entities file {path} is not UTF-8 text (byte {e.start}): "
                         f"{e.reason}") from e
    return ChordRequests(path, storage.uri(name), tuple(parse_entities(text, path)))


def parse_chord_output(text: str) -> OutputSpec:
    """Parse a chord ``-o FORMAT=PATH`` (§9.1): as for snapshot, but thrift is rejected.

    Raises:
        UsageError: malformed, or thrift (``chord does not write thrift outputs``).
    """
    form, _, file_format = text.split("=", 1)[0].partition(":")
    if "=" in text and form in ("dense", "sparse") and file_format == "thrift":
        raise UsageError(f"chord does not write thrift outputs ('{text}'): use a text format "
                         "such as sparse:psv or dense:psv")
    return parse_output_spec(text)


def plan_chord(repository: Repository, state: RepositoryState, requests: ChordRequests,
               outputs: Sequence[OutputSpec], missing: str,
               seed: SnapshotRecord | None = None,
               inline_limit: int = INLINE_REQUESTS) -> dict[str, Any]:
    """The chord job's plan (see :mod:`ivory.jobs.chord`) at ``state``.

    Args:
        seed: the snapshot to start from; used only when usable for the earliest chord date
            at ``state`` (§7.4), else every partition up to the latest chord date is read.
        inline_limit: requests beyond this many are read by the job from ``requests.uri``.

    Raises:
        RepositoryError: a factset of the store has no manifest.
    """
    store = repository.store(state)
    dictionary = repository.dictionary(state)
    manifests = repository.store_manifests(store, state)
    previous = None
    inputs = select_partitions(store, manifests, requests.latest)
    if seed is not None:
        seed_store = repository.store_at(seed.store_version)
        seed_dictionary = repository.dictionary(version=Version.parse(seed.dictionary_version))
        seed_manifest = repository.read_manifest("snapshot", seed.snapshot_id, state)
        if seed_manifest is not None and is_snapshot_usable(
                seed, requests.earliest, store, seed_store, str(state.pins["dictionary"]),
                dictionary, seed_dictionary):
            inputs = select_partitions(store, manifests, requests.latest, after=seed.date,
                                       after_only_for=frozenset(seed_store))
            previous = {"snapshot_id": seed.snapshot_id,
                        "files": [f"snapshots/{seed.snapshot_id}/{f.path}"
                                  for f in seed_manifest.files]}
    data = repository.data

    def uris(paths: Sequence[str]) -> list[str]:
        return [data.uri(p) for p in paths]

    if len(requests.pairs) <= inline_limit or requests.uri.startswith("memory://"):
        request_json: dict[str, Any] = {
            "inline": [[entity, date.isoformat()] for entity, date in requests.pairs]}
    else:
        request_json = {"path": requests.uri, "count": len(requests.pairs)}
    return {
        "job": "chord",
        "features": build_feature_table(dictionary),
        "squash": build_squash_table(dictionary),
        "requests": request_json,
        "max_date": requests.latest.isoformat(),
        "inputs": [dict(s, files=uris(s["files"])) for s in inputs],
        "previous": dict(previous, files=uris(previous["files"])) if previous else None,
        "extracts": [build_extract_json(o, missing) for o in outputs],
    }


def chord(repository: Repository, entities: str | ChordRequests,
          outputs: Sequence[OutputSpec], runner: Runner, *, missing: str = "NA",
          strategy: str = "pessimistic", take_snapshot: bool = True,
          inline_limit: int = INLINE_REQUESTS) -> ChordResult:
    """Extract each concrete feature per (entity, date) of an entities file (§10).

    Args:
        entities: the entities file (path or URI), or requests already read.
        outputs: at least one text output (§9.1).
        take_snapshot: False for ``--no-snapshot``.
        strategy: plan strategy of the seed snapshot (§7.4).

    Raises:
        UsageError: no output, or two outputs with the same path.
        ChordError: a bad entities file (before any job runs).
        SnapshotError: an output exists already.
        JobError: a job failed or an output is missing; the seed snapshot may have been
            committed, the chord outputs are incomplete.
    """
    if not outputs:
        raise UsageError("chord needs at least one output: -o FORMAT=PATH (§9.1)")
    paths = [open_storage(o.path).uri() for o in outputs]
    if len(set(paths)) != len(paths):
        raise UsageError("two chord outputs have the same path: give each its own")
    requests = read_entities(entities) if isinstance(entities, str) else entities
    check_outputs_absent(outputs)
    seed = None
    reused = False
    expect = getattr(runner, "expect_locations", None)
    if expect is not None:  # the local runner's session must start with s3a for S3 outputs
        expect(paths)
    if take_snapshot:
        seeded = snapshot(repository, requests.earliest, [], runner, missing=missing,
                          strategy=strategy)
        reused = seeded.reused
    state = repository.state()
    if take_snapshot:
        seed = next((r for r in repository.snapshots(state)
                     if r.snapshot_id == seeded.snapshot_id), None)
    plan = plan_chord(repository, state, requests, outputs, missing, seed, inline_limit)
    result = runner.run(plan)
    verify_outputs(outputs, result)
    dictionary = repository.dictionary(state)
    for spec in outputs:
        write_chord_files(spec, dictionary, str(state.version), missing)
    return ChordResult(
        len(requests.pairs), requests.entities, requests.earliest, requests.latest,
        plan["previous"]["snapshot_id"] if plan["previous"] else None, reused,
        tuple((e["path"], e["lines"]) for e in result["extracts"]),
    )


def verify_outputs(outputs: Sequence[OutputSpec], result: dict[str, Any]) -> None:
    """Check the job reported every output and each holds part files.

    Raises:
        JobError: an output is missing from the result or from storage.
    """
    reported = {e["path"] for e in result.get("extracts", [])}
    for spec in outputs:
        storage = open_storage(spec.path)
        if storage.uri() not in reported:
            raise JobError(f"the chord job did not report output {spec.path}")
        parts = [e for e in storage.list("", None)
                 if posixpath.basename(e.key).startswith("part-")]
        if not parts:
            raise JobError(f"the chord job wrote no part file into {spec.path}")


def write_chord_files(spec: OutputSpec, dictionary: Any, commit: str, missing: str) -> None:
    """Write ``.dictionary``, ``.manifest.json`` (``extract:chord``) and ``.profile`` into a
    chord output (§9.5, §9.6, §2.5)."""
    storage = open_storage(spec.path)
    storage.write(".dictionary", render_extract_dictionary(dictionary, missing).encode("utf-8"))
    manifest = {
        "version": {"metadata": "v5", "ivory": __version__},
        "metadata": {"type": "extract:chord", "commit": commit},
    }
    storage.write(".manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    storage.write(".profile", b"")
