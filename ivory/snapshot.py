"""Driver side of snapshot (§7): reuse or plan, run the job, verify, commit, write extracts.

A snapshot with the same date, store and dictionary as a published one is reused (§7.1).
Otherwise the planner picks an earlier snapshot to start from when one is usable (§7.4,
D3.2), so the cost follows the new data. The snapshot is published by a commit that adds it
to the ``snapshots`` value, after its files verified and its manifest was written (D5.6).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivory import __version__
from ivory.dictionary import render_extract_dictionary
from ivory.errors import SnapshotError
from ivory.ingest import Runner, verify_output
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import RepositoryState, Version
from ivory.planning import (
    OutputSpec,
    build_feature_table,
    build_squash_table,
    choose_snapshot,
    input_size,
    is_snapshot_usable,
    select_partitions,
)
from ivory.repository import (
    SNAPSHOTS_KEY,
    Repository,
    SnapshotRecord,
    parse_snapshots,
    render_snapshots,
)
from ivory.storage import open_storage
from ivory.upstream import write_snapshot_stats, write_snapshot_view


@dataclass(frozen=True)
class SnapshotResult:
    """A snapshot's id, date, stored fact count, whether it was reused, where it started
    from (an earlier snapshot id or None) and the lines written per extract output."""

    snapshot_id: str
    date: dt.date
    facts: int
    reused: bool
    incremental_from: str | None
    extract_lines: tuple[tuple[str, int], ...]


def build_extract_json(spec: OutputSpec, missing: str) -> dict[str, Any]:
    """An extract output as the jobs receive it (see :func:`ivory.jobs.extract.write_extract`)."""
    return {
        "form": spec.form,
        "delimiter": spec.text_format.delimiter,
        "escaped": spec.text_format.escaped,
        "deprecated": spec.text_format.deprecated,
        "missing": missing,
        "path": open_storage(spec.path).uri(),
        "thrift": spec.thrift,
    }


def check_outputs_absent(outputs: Sequence[OutputSpec]) -> None:
    """Raise SnapshotError when an output path already exists (§7.1)."""
    for spec in outputs:
        storage = open_storage(spec.path)
        if next(iter(storage.list("", None)), None) is not None:
            raise SnapshotError(f"output path {spec.path} already exists: choose a new one")


def snapshot_data_present(repository: Repository, record: SnapshotRecord,
                          manifest: Manifest | None = None) -> bool:
    """Whether every data file of a published snapshot is still there (§2, §7.4).

    A snapshot is its directory ``snapshots/<id>/`` (§2): one whose files were deleted
    (``rm -rf <repo>/snapshots``, T: planning) is neither reused nor used as the start of an
    incremental snapshot; the snapshot is computed again instead. One listing of the
    snapshot's directory; a snapshot without a manifest, or whose ``.allocated`` marker is
    gone, counts as absent.

    Args:
        manifest: the snapshot's manifest when the caller has read it already (default:
            read its version 0).
    """
    if manifest is None:
        manifest = repository.read_manifest("snapshot", record.snapshot_id, version=Version(0))
    if manifest is None:
        return False
    prefix = f"snapshots/{record.snapshot_id}/"
    present = {entry.key for entry in repository.data.list(prefix, None)}
    return prefix + ".allocated" in present and all(
        prefix + f.path in present for f in manifest.files)


def plan_snapshot(repository: Repository, state: RepositoryState, date: dt.date,
                  strategy: str) -> tuple[SnapshotRecord | None, dict[str, Any]]:
    """Decide the snapshot's input (§7.4).

    Returns:
        ``(record to reuse or None, partial plan with "inputs" and "previous")``.
    """
    store_version = str(state.pins["store"])
    dictionary_version = str(state.pins["dictionary"])
    versions = repository.manifest_versions(state)
    published: dict[str, Manifest] = {}  # snapshot id -> manifest, for snapshots still there
    all_records = repository.snapshots(state)
    for record in all_records:
        manifest = repository.read_manifest(
            "snapshot", record.snapshot_id,
            version=versions.get(("snapshot", record.snapshot_id), Version(0)))
        if manifest is not None and snapshot_data_present(repository, record, manifest):
            published[record.snapshot_id] = manifest
    records = [r for r in all_records if r.snapshot_id in published]
    for record in records:
        if (record.date == date and record.store_version == store_version
                and record.dictionary_version == dictionary_version):
            return record, {}
    store = repository.store(state)
    dictionary = repository.dictionary(state)
    manifests = repository.store_manifests(store, state)
    full = select_partitions(store, manifests, date)
    candidates = []
    previous: dict[str, Manifest] = {}
    for record in records:
        snapshot_store = repository.store_at(record.store_version)
        snapshot_dictionary = repository.dictionary(
            version=Version.parse(record.dictionary_version))
        if not is_snapshot_usable(record, date, store, snapshot_store, dictionary_version,
                                  dictionary, snapshot_dictionary):
            continue
        manifest = published[record.snapshot_id]
        selection = select_partitions(store, manifests, date, after=record.date,
                                      after_only_for=frozenset(snapshot_store))
        previous[record.snapshot_id] = manifest
        candidates.append((record, manifest.total_size + input_size(selection, manifests)))
    chosen = choose_snapshot(candidates, strategy)
    if chosen is None:
        return None, {"inputs": full, "previous": None}
    snapshot_store = repository.store_at(chosen.store_version)
    selection = select_partitions(store, manifests, date, after=chosen.date,
                                  after_only_for=frozenset(snapshot_store))
    files = [f"snapshots/{chosen.snapshot_id}/{f.path}"
             for f in previous[chosen.snapshot_id].files]
    return None, {"inputs": selection,
                  "previous": {"snapshot_id": chosen.snapshot_id, "files": files}}


def build_snapshot_plan(repository: Repository, dictionary: Any, date: dt.date,
                        snapshot_id: str, reuse: SnapshotRecord | None,
                        partial: dict[str, Any], outputs: Sequence[OutputSpec],
                        missing: str) -> dict[str, Any]:
    """The snapshot job's plan (JSON-able) from :func:`plan_snapshot`'s decision; used by
    :func:`snapshot` and by the EMR dry run, which plans without running."""
    data = repository.data

    def uris(paths: Sequence[str]) -> list[str]:
        return [data.uri(p) for p in paths]

    return {
        "job": "snapshot",
        "snapshot_id": snapshot_id,
        "date": date.isoformat(),
        "compute": reuse is None,
        "features": build_feature_table(dictionary),
        "squash": build_squash_table(dictionary),
        "inputs": [dict(s, files=uris(s["files"])) for s in partial.get("inputs", [])],
        "previous": (dict(partial["previous"], files=uris(partial["previous"]["files"]))
                     if partial.get("previous") else None),
        "output": data.uri(f"snapshots/{snapshot_id}"),
        "extracts": [build_extract_json(o, missing) for o in outputs],
    }


def snapshot(repository: Repository, date: dt.date, outputs: Sequence[OutputSpec],
             runner: Runner, *, missing: str = "NA", strategy: str = "pessimistic"
             ) -> SnapshotResult:
    """Take (or reuse) the snapshot at ``date`` and write the requested extracts (§7, §9).

    Raises:
        SnapshotError: an output exists already.
        RepositoryError: a factset of the store has no manifest.
        JobError: the job failed or its output did not verify; nothing was committed.
    """
    check_outputs_absent(outputs)
    state = repository.state()
    dictionary = repository.dictionary(state)
    reuse, partial = plan_snapshot(repository, state, date, strategy)
    snapshot_id = reuse.snapshot_id if reuse else repository.allocate("snapshots")
    plan = build_snapshot_plan(repository, dictionary, date, snapshot_id, reuse, partial,
                               outputs, missing)
    result = runner.run(plan)
    if reuse is None:
        verify_output(repository, f"snapshots/{snapshot_id}", result["files"])
        files = tuple(ManifestFile(f["path"], f["size"], f["md5"]) for f in result["files"])
        repository.write_manifest(Manifest(
            "snapshot", snapshot_id, files, result["facts"], date=date,
            store_version=str(state.pins["store"]),
            dictionary_version=str(state.pins["dictionary"]),
            repository_version=str(state.version),
        ))
        write_snapshot_view(repository.data, repository.metadata_storage, snapshot_id, date,
                            state.pins)  # upstream .manifest.json (§2.5)
        write_snapshot_stats(repository.data, snapshot_id, int(result["facts"]),
                             dt.datetime.now(dt.UTC))  # upstream .stats (§2)
        record = SnapshotRecord(snapshot_id, date, str(state.pins["store"]),
                                str(state.pins["dictionary"]))

        def publish(current: Any) -> dict[str, bytes]:
            records = parse_snapshots(current.read(SNAPSHOTS_KEY) or b"")
            return {SNAPSHOTS_KEY: render_snapshots([*records, record])}

        repository.commit(publish)
    for spec in outputs:
        write_extract_files(spec, dictionary, snapshot_id, str(state.version), missing)
    previous = partial.get("previous")
    return SnapshotResult(
        snapshot_id, date, result["facts"], reuse is not None,
        previous["snapshot_id"] if previous else None,
        tuple((e["path"], e["lines"]) for e in result["extracts"]),
    )


def write_extract_files(spec: OutputSpec, dictionary: Any, snapshot_id: str, commit: str,
                        missing: str) -> None:
    """Write ``.dictionary``, ``.manifest.json`` and ``.profile`` into an extract output (§9)."""
    storage = open_storage(spec.path)
    storage.write(".dictionary", render_extract_dictionary(
        dictionary, "" if spec.thrift else missing).encode("utf-8"))  # thrift: empty (§9.5)
    manifest = {
        "version": {"metadata": "v5", "ivory": __version__},
        "metadata": {"type": "extract:snapshot", "commit": commit, "snapshot": snapshot_id},
    }
    storage.write(".manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    storage.write(".profile", b"")
