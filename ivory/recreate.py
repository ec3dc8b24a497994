"""``ivory health-recreate`` (§11.7): rewrite published factsets in the current fact format.

Runs on the driver with pyarrow (no Spark). For each named factset of the store:

1. every file its manifest lists is read (its size and MD5 checked against the manifest, so a
   corrupt file is never re-published under fresh checksums), conformed to the current fact
   schema (:func:`ivory.schema.arrow_fact_schema`: same column order and types, absent value
   columns added as nulls) and written beside it, in the same partition, as
   ``recreated-<yyyyMMddHHmmss>-NNNNN.parquet`` (the time in the repository time zone); the
   rows of each new file must equal the original's and the total the manifest's fact count;
2. a new version of the factset's manifest listing the new files is written (invisible);
3. one repository commit pins the new manifest versions in the ``manifests`` key
   (:mod:`ivory.repository`): from then on every reader (planning, debug, validate, verify,
   ls, backup) sees the recreated files only;
4. only then are the original files moved to ``tmp/expired/<id>.<yyyyMMddHHmmss>/`` (same
   relative paths) under the data root.

A failure before the commit deletes the new files and manifest versions: nothing is visible
and the previous files and manifests stay as they were (a failed job commits nothing, D5.6).
The commit re-checks, against the winner of any commit race, that each factset is still in the
store with the manifest version it started from (a concurrent recreate of the same factset
aborts this one).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ivory.errors import IvoryError, StorageError
from ivory.manifest import Manifest, ManifestFile
from ivory.metadata import RepositoryState, Version
from ivory.repository import (
    MANIFESTS_KEY,
    STORE_KEY,
    Repository,
    parse_manifests,
    parse_store,
    render_manifests,
)
from ivory.schema import arrow_fact_schema

EXPIRED_DIR = "tmp/expired"


class RecreateError(IvoryError):
    """``health-recreate`` failed before its commit: nothing was changed."""


@dataclass(frozen=True)
class Recreated:
    """One recreated factset: its id and where its original files were moved (a data key,
    ``tmp/expired/<id>.<yyyyMMddHHmmss>``)."""

    factset: str
    expired: str


def expired_directory(factset: str, now: dt.datetime, timezone: str) -> str:
    """``tmp/expired/<id>.<yyyyMMddHHmmss>``: ``now`` (timezone-aware) in the repository
    time zone (§11.7)."""
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    return f"{EXPIRED_DIR}/{factset}.{local.strftime('%Y%m%d%H%M%S')}"


def conform_table(table: pa.Table, source: str) -> pa.Table:
    """``table`` in the current fact schema: columns in schema order, cast to their types,
    absent nullable value columns filled with nulls (§11.7).

    Raises:
        RecreateError: an unknown column, an absent or null required column, or a column that
            cannot be cast; the message names ``source`` and the column.
    """
    schema = arrow_fact_schema()
    unknown = [n for n in table.column_names if n not in schema.names]
    if unknown:
        raise RecreateError(f"{source}: unknown column(s) {', '.join(unknown)}: not a fact file "
                            "this ivory can recreate")
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            if not field.nullable:
                raise RecreateError(f"{source}: required column {field.name} is absent")
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            raise RecreateError(f"{source}: column {field.name} has {column.null_count} nulls")
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise RecreateError(f"{source}: column {field.name} ({column.type}) cannot be "
                                f"stored as {field.type}: {e}") from None
    return pa.Table.from_arrays(columns, schema=schema)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _rewrite(repository: Repository, factset: str, manifest: Manifest, stamp: str,
             written: list[str]) -> Manifest:
    """Write the recreated files of one factset (appending their keys to ``written`` as they
    are created, for clean-up); returns its new manifest."""
    files = []
    total = 0
    for number, original in enumerate(sorted(manifest.files, key=lambda f: f.path)):
        key = f"factsets/{factset}/{original.path}"
        data = repository.data.read(key)
        if len(data) != original.size or _md5(data) != original.md5:
            raise RecreateError(f"{repository.data.uri(key)} is {len(data)} bytes, MD5 "
                                f"{_md5(data)}; its manifest says {original.size} bytes, MD5 "
                                f"{original.md5}: not recreating a corrupt factset "
                                "(run 'ivory verify')")
        try:
            table = pq.read_table(pa.BufferReader(data))
        except pa.ArrowException as e:
            raise RecreateError(f"{repository.data.uri(key)} is not readable Parquet: {e}"
                                ) from None
        conformed = conform_table(table, repository.data.uri(key))
        sink = pa.BufferOutputStream()
        pq.write_table(conformed, sink)
        out = sink.getvalue().to_pybytes()
        check = pq.read_metadata(pa.BufferReader(out)).num_rows
        if check != table.num_rows:
            raise RecreateError(f"{repository.data.uri(key)}: {table.num_rows} facts read, "
                                f"{check} written")
        directory = original.path.rpartition("/")[0]
        path = f"{directory}/recreated-{stamp}-{number:05d}.parquet"
        repository.data.create_if_absent(f"factsets/{factset}/{path}", out)
        written.append(f"factsets/{factset}/{path}")
        files.append(ManifestFile(path, len(out), _md5(out)))
        total += check
    if total != manifest.fact_count:
        raise RecreateError(f"factset {factset}: {total} facts recreated, its manifest says "
                            f"{manifest.fact_count}")
    return Manifest("factset", factset, tuple(sorted(files, key=lambda f: f.path)), total)


def health_recreate(repository: Repository, factset_ids: Sequence[str],
                    now: dt.datetime | None = None,
                    echo: Callable[[str], None] | None = None) -> list[Recreated]:
    """Recreate factsets in the current format and publish them in one commit (§11.7; see the
    module docstring for the steps).

    Args:
        factset_ids: 8-hex ids of factsets of the current store (repeats are ignored).
        now: timezone-aware time of the run (names the new files and the expired directory);
            default: the current time.
        echo: called with progress lines (default: none).

    Returns:
        One :class:`Recreated` per factset, in the order given.

    Raises:
        RecreateError: a factset is not in the store, has no manifest, has a corrupt or
            unreadable file, or a concurrent commit changed it; nothing was committed and the
            files written were deleted.
        StorageError: moving the originals failed after the commit: the recreated factsets
            are published, the originals not yet moved are still in place (unreferenced).
    """
    now = now or dt.datetime.now(dt.UTC)
    ids = list(dict.fromkeys(factset_ids))
    if not ids:
        raise RecreateError("no factset to recreate: name one with -f")
    say = echo or (lambda _line: None)
    state = repository.state()
    store = repository.store(state)
    versions = repository.manifest_versions(state)
    timezone = repository.config(state).timezone
    stamp = expired_directory("", now, timezone).rpartition(".")[2]  # yyyyMMddHHmmss
    originals: dict[str, Manifest] = {}
    for factset in ids:
        if factset not in store:
            raise RecreateError(f"factset {factset} is not in the store of "
                                f"{repository.location}")
        manifest = repository.read_manifest(
            "factset", factset, version=versions.get(("factset", factset), Version(0)))
        if manifest is None:
            raise RecreateError(f"factset {factset} of the store has no manifest "
                                "(run 'ivory verify')")
        originals[factset] = manifest
    written: list[str] = []
    new_versions: dict[str, Version] = {}
    try:
        for factset in ids:
            manifest = _rewrite(repository, factset, originals[factset], stamp, written)
            new_versions[factset] = repository.write_manifest_next(manifest)
            say(f"factset {factset}: {manifest.fact_count} facts in {len(manifest.files)} "
                "recreated files")
    except BaseException:
        _clean_up(repository, written, new_versions)
        raise

    def pin(current: RepositoryState | None) -> dict[str, bytes]:
        if current is None:
            raise RecreateError("the repository has no committed metadata")
        now_store = parse_store(current.read(STORE_KEY) or b"")
        pinned = parse_manifests(current.read(MANIFESTS_KEY) or b"")
        for factset in ids:
            if factset not in now_store:
                raise RecreateError(f"factset {factset} left the store while it was "
                                    "recreated")
            if (pinned.get(("factset", factset), Version(0))
                    != versions.get(("factset", factset), Version(0))):
                raise RecreateError(f"factset {factset} was recreated concurrently")
            pinned[("factset", factset)] = new_versions[factset]
        return {MANIFESTS_KEY: render_manifests(pinned)}

    try:
        repository.commit(pin)
    except RecreateError:
        _clean_up(repository, written, new_versions)
        raise
    except BaseException:
        # An ambiguous failure (e.g. the repository write's response was lost) may still have
        # committed: delete the new files only when the head certainly does not pin them.
        if _committed(repository, new_versions) is False:
            _clean_up(repository, written, new_versions)
        raise
    out = []
    for factset in ids:
        expired = expired_directory(factset, now, timezone)
        for f in originals[factset].files:
            source = f"factsets/{factset}/{f.path}"
            try:
                repository.data.copy(source, f"{expired}/{f.path}")
                repository.data.delete(source)
            except StorageError as e:
                raise StorageError(
                    f"factset {factset} was recreated and committed, but moving its original "
                    f"{source} to {expired} failed ({e}); the originals still in place are no "
                    "longer referenced and can be moved or deleted by hand") from e
        out.append(Recreated(factset, expired))
    return out


def _committed(repository: Repository, versions: dict[str, Version]) -> bool | None:
    """Whether the head pins every manifest version in ``versions``; None when unknown."""
    try:
        pinned = repository.manifest_versions()
    except Exception:  # cannot tell: keep the files (deleting published files is worse)
        return None
    return all(pinned.get(("factset", f)) == v for f, v in versions.items())


def _clean_up(repository: Repository, written: list[str], versions: dict[str, Version]
              ) -> None:
    """Best-effort removal of what a failed recreate wrote (none of it is referenced)."""
    for key in written:
        with contextlib.suppress(StorageError):
            repository.data.delete(key)
    for factset, version in versions.items():
        with contextlib.suppress(StorageError):
            repository.metadata_storage.delete(
                f"metadata/manifest-factset-{factset}/{version}/value")


def render_recreated(recreated: Sequence[Recreated], uri: Callable[[str], str]) -> list[str]:
    """The lines ``health-recreate`` prints (§11.7): ``Successful recreations with their
    original data:`` then ``<id> -> <uri of the expired directory>``, most recent first (as
    upstream lists them)."""
    return (["Successful recreations with their original data:"]
            + [f"{r.factset} -> {uri(r.expired)}" for r in reversed(recreated)])
