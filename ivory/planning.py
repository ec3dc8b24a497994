"""Planning: pure code that decides the exact input and output of a job (D3.1).

Planners take committed metadata and listings (never a storage client or a SparkSession) and
return a *plan*: a JSON-serialisable dict that the job in :mod:`ivory.jobs` receives as is,
locally or on EMR.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivory.dictionary import ConcreteDefinition, Dictionary, render_encoding
from ivory.errors import IngestError, SnapshotError, UsageError
from ivory.manifest import Manifest
from ivory.reductions import build_groups, group_to_json
from ivory.repository import SnapshotRecord
from ivory.windows import covers, snapshot_window_starts

DELIMITERS = {"psv": "|", "csv": ",", "tsv": "\t"}
#: Priority of facts carried in from an earlier snapshot: below every factset (§6).
SNAPSHOT_PRIORITY = 32767
PLAN_STRATEGIES = ("pessimistic", "conservative", "optimistic")


@dataclass(frozen=True)
class TextFormat:
    """How text facts or outputs are laid out (§9.1): delimiter and escaping."""

    delimiter: str = "|"
    escaped: bool = False
    deprecated: bool = False

    def to_json(self) -> dict[str, object]:
        return {"delimiter": self.delimiter, "escaped": self.escaped}


def parse_file_format(text: str) -> TextFormat | str:
    """Parse the FILEFORMAT part of §9.1: ``thrift`` or ``[ESCAPING:]DELIM[:TEXTFORMAT]``.

    Returns:
        ``"thrift"`` or a :class:`TextFormat`.

    Raises:
        UsageError: unknown escaping, delimiter or text format.
    """
    parts = text.split(":")
    if parts == ["thrift"]:
        return "thrift"
    escaped = False
    if parts and parts[0] in ("delimited", "escaped"):
        escaped = parts.pop(0) == "escaped"
    if not parts or parts[0] not in DELIMITERS:
        raise UsageError(f"unknown file format '{text}': expected [delimited|escaped:]psv|csv|tsv"
                         "[:json|deprecated] or thrift")
    delimiter = DELIMITERS[parts.pop(0)]
    deprecated = False
    if parts:
        if len(parts) > 1 or parts[0] not in ("json", "deprecated"):
            raise UsageError(f"unknown text format in '{text}': expected json or deprecated")
        deprecated = parts[0] == "deprecated"
    return TextFormat(delimiter, escaped, deprecated)


@dataclass(frozen=True)
class InputSpec:
    """One ``ingest -i FORMAT[|NAMESPACE]=PATH`` (§5.1)."""

    text_format: TextFormat
    namespace: str | None
    path: str


def parse_input_spec(text: str) -> InputSpec:
    """Parse an ingest input argument such as ``sparse:delimited:psv|HALIBUT=/data/facts``.

    Raises:
        UsageError: malformed, ``dense`` (``Only sparse supported for ingest``), the
            ``deprecated`` text format (``Only json format supported for ingest``) or thrift
            (not supported yet).
    """
    if "=" not in text:
        raise UsageError(f"invalid input '{text}': expected FORMAT[|NAMESPACE]=PATH")
    head, path = text.split("=", 1)
    fmt, _, namespace = head.partition("|")
    form, _, file_format = fmt.partition(":")
    if form == "dense":
        raise UsageError("Only sparse supported for ingest")
    if form != "sparse":
        raise UsageError(f"invalid input format '{fmt}': expected sparse:FILEFORMAT")
    parsed = parse_file_format(file_format)
    if parsed == "thrift":
        raise UsageError("sparse:thrift ingest is not supported yet: use a text format")
    assert isinstance(parsed, TextFormat)
    if parsed.deprecated:
        raise UsageError("Only json format supported for ingest")
    if not path:
        raise UsageError(f"invalid input '{text}': the path is empty")
    return InputSpec(parsed, namespace or None, path)


@dataclass(frozen=True)
class OutputSpec:
    """One extract output ``-o FORM:FILEFORMAT=PATH`` (§9.1)."""

    form: str
    text_format: TextFormat
    path: str
    thrift: bool = False  # dense:thrift / sparse:thrift (§9.4)


def parse_output_spec(text: str) -> OutputSpec:
    """Parse ``dense:psv=/out/dense`` and friends (§9.1).

    Raises:
        UsageError: malformed (unknown form, file format or text format, empty path).
    """
    if "=" not in text:
        raise UsageError(f"invalid output '{text}': expected FORM:FORMAT=PATH")
    fmt, path = text.split("=", 1)
    form, _, file_format = fmt.partition(":")
    if form not in ("dense", "sparse"):
        raise UsageError(f"invalid output form '{form}' in '{text}': expected dense or sparse")
    parsed = parse_file_format(file_format)
    if not path:
        raise UsageError(f"invalid output '{text}': the path is empty")
    if parsed == "thrift":
        return OutputSpec(form, TextFormat(), path, thrift=True)
    assert isinstance(parsed, TextFormat)
    return OutputSpec(form, parsed, path)


def is_hidden(relative_path: str) -> bool:
    """True when any segment of the path starts with ``.`` or ``_`` (§5.1)."""
    return any(part.startswith((".", "_")) for part in relative_path.split("/"))


def assign_namespaces(spec: InputSpec, files: Sequence[str]) -> dict[str, list[str]]:
    """Group the files of one input by namespace (§5.1).

    Args:
        spec: the input.
        files: paths relative to ``spec.path`` of every file under it, recursively.

    Returns:
        namespace -> relative paths (sorted), hidden files left out. Without an explicit
        namespace the top-level sub-directory names the namespace (upstream used the file's
        parent directory, a QUIRK that mis-assigns nested directories).

    Raises:
        IngestError: a file lies directly in a root that has no explicit namespace.
    """
    out: dict[str, list[str]] = {}
    for rel in sorted(files):
        if is_hidden(rel):
            continue
        if spec.namespace is not None:
            out.setdefault(spec.namespace, []).append(rel)
            continue
        if "/" not in rel:
            raise IngestError(
                f"'{posixpath.join(spec.path, rel)}' is not in a namespace directory: put it in "
                f"<path>/<namespace>/ or name the namespace with -i 'FORMAT|NAMESPACE=PATH'"
            )
        out.setdefault(rel.split("/", 1)[0], []).append(rel)
    return out


def build_feature_table(dictionary: Dictionary) -> list[dict[str, object]]:
    """Every dictionary feature as a JSON row for jobs, in feature-index order (§1.2).

    Row keys: ``namespace``, ``name``, ``index`` (int), ``virtual`` (bool), ``encoding``
    (text of the concrete encoding, ``""`` for virtual features), ``mode`` (``state``,
    ``set`` or ``keyed_set``), ``tombstones`` (list of strings).
    """
    rows = []
    for index, fid in enumerate(dictionary.sorted_features()):
        definition = dictionary.get(fid)
        concrete = isinstance(definition, ConcreteDefinition)
        rows.append({
            "namespace": fid.namespace,
            "name": fid.name,
            "index": index,
            "virtual": not concrete,
            "encoding": render_encoding(definition.encoding, declared=True) if concrete else "",
            "mode": definition.mode.kind if concrete else "",
            "tombstones": list(definition.tombstones) if concrete else [],
        })
    return rows


def build_squash_table(dictionary: Dictionary) -> list[dict[str, object]]:
    """The concrete features that have virtual features, with those features, as JSON rows
    for the snapshot and chord jobs (§8; rows of :func:`ivory.reductions.group_to_json`, in
    feature-id order; each group's virtual features in the §8.5 order)."""
    groups = build_groups(dictionary)
    return [group_to_json(groups[fid]) for fid in dictionary.sorted_features()
            if fid in groups and groups[fid].virtuals]


def check_ingest_namespaces(namespaces: Sequence[str], dictionary: Dictionary) -> None:
    """Raise IngestError ``Unknown namespaces: a, b`` for namespaces not in the dictionary
    (§5.1)."""
    unknown = sorted(set(namespaces) - set(dictionary.namespaces))
    if unknown:
        raise IngestError(f"Unknown namespaces: {', '.join(unknown)}")


def build_ingest_plan(
    *,
    factset_id: str,
    inputs: Sequence[tuple[InputSpec, Mapping[str, Sequence[str]]]],
    dictionary: Dictionary,
    repository_timezone: str,
    ingest_timezone: str,
    factset_uri: str,
    errors_uri: str,
) -> dict[str, object]:
    """The plan of an ingest job (§5).

    Args:
        factset_id: the allocated factset id.
        inputs: each input with its files as absolute URIs grouped by namespace.
        dictionary: the committed dictionary.
        repository_timezone / ingest_timezone: IANA zone ids (§5.3).
        factset_uri / errors_uri: where the job writes facts and error records.

    Raises:
        IngestError: a namespace is not in the dictionary, or there is no input file.
    """
    check_ingest_namespaces([ns for _, groups in inputs for ns in groups], dictionary)
    sources = [
        {"namespace": namespace, "format": spec.text_format.to_json(), "files": list(files)}
        for spec, groups in inputs
        for namespace, files in sorted(groups.items())
        if files
    ]
    if not sources:
        raise IngestError("there is no input file to ingest")
    return {
        "job": "ingest",
        "factset_id": factset_id,
        "repository_timezone": repository_timezone,
        "ingest_timezone": ingest_timezone,
        "features": build_feature_table(dictionary),
        "inputs": sources,
        "output": {"factset": factset_uri, "errors": errors_uri},
    }


def _modes(dictionary: Dictionary) -> dict[object, str]:
    return {fid: d.mode.render() for fid, d in dictionary.by_feature.items()
            if isinstance(d, ConcreteDefinition)}


def is_snapshot_usable(record: SnapshotRecord, date: dt.date, store: Sequence[str],
                       snapshot_store: Sequence[str], dictionary_version: str,
                       dictionary: Dictionary, snapshot_dictionary: Dictionary) -> bool:
    """Whether an earlier snapshot can seed a snapshot at ``date`` (§7.4).

    Usable iff its date <= ``date``, its store is a subset of the current store, and it was
    computed with the same dictionary (windows end later, so they start later: what the
    snapshot kept covers them) or, for every concrete feature of both dictionaries: the
    same mode, and the facts the snapshot kept cover the window needed now (§7.3, §7.4:
    kept after ``W_old`` at the snapshot's date, needed after ``W_new`` at ``date``;
    without windows ``W`` is the date itself). As before, a feature new in the current
    dictionary does not make a snapshot unusable (upstream's rule), although the snapshot
    dropped any facts it had (§6).
    """
    if record.date > date or not set(snapshot_store) <= set(store):
        return False
    if record.dictionary_version == dictionary_version:
        return True
    old_modes = _modes(snapshot_dictionary)
    new_modes = _modes(dictionary)
    if any(old_modes.get(f, m) != m for f, m in new_modes.items()):
        return False
    old_starts = snapshot_window_starts(snapshot_dictionary, record.date)
    new_starts = snapshot_window_starts(dictionary, date)
    return all(covers(old_starts[f], record.date, new_starts[f], date)
               for f in new_modes if f in old_starts)


def choose_snapshot(candidates: Sequence[tuple[SnapshotRecord, int]], strategy: str
                    ) -> SnapshotRecord | None:
    """Pick the earlier snapshot to start from (§7.4).

    Args:
        candidates: usable snapshots with the total input bytes a plan from each would read.
        strategy: ``pessimistic`` or ``conservative`` (smallest input; ties -> latest date),
            ``optimistic`` (latest date first).
    """
    if strategy not in PLAN_STRATEGIES:
        raise UsageError(f"unknown plan strategy '{strategy}': expected one of "
                         + ", ".join(PLAN_STRATEGIES))
    if not candidates:
        return None
    if strategy == "optimistic":
        return max(candidates, key=lambda c: (c[0].date, c[0].snapshot_id))[0]
    return min(candidates, key=lambda c: (c[1], -c[0].date.toordinal(), c[0].snapshot_id))[0]


def select_partitions(store: Sequence[str], manifests: Mapping[str, Manifest],
                      date: dt.date, after: dt.date | None = None,
                      after_only_for: frozenset[str] = frozenset()
                      ) -> list[dict[str, object]]:
    """The factset files a snapshot at ``date`` reads (§7.2, §7.4).

    Args:
        store: factset ids, highest priority first (priority = position + 1, §6).
        manifests: factset id -> manifest.
        date: snapshot date; partitions dated after it are left out.
        after: with an earlier snapshot, the factsets in ``after_only_for`` contribute only
            partitions dated after this date.
        after_only_for: factsets already covered by the earlier snapshot.

    Returns:
        ``[{"factset": id, "priority": int, "files": [relative paths]}]`` for factsets with
        at least one selected file; paths are relative to the repository root.
    """
    out = []
    for position, factset in enumerate(store):
        manifest = manifests[factset]
        files = []
        for (_, part_date), part_files in sorted(manifest.partitions().items()):
            if part_date > date:
                continue
            if after is not None and factset in after_only_for and part_date <= after:
                continue
            files.extend(f"factsets/{factset}/{f.path}" for f in part_files)
        if files:
            out.append({"factset": factset, "priority": position + 1, "files": files})
    return out


def input_size(selection: Sequence[Mapping[str, object]], manifests: Mapping[str, Manifest]
               ) -> int:
    """Bytes a selection from :func:`select_partitions` reads."""
    sizes = {f"factsets/{fid}/{f.path}": f.size for fid, m in manifests.items() for f in m.files}
    return sum(sizes[p] for s in selection for p in s["files"])  # type: ignore[union-attr]


def check_snapshot_date(text: str) -> dt.date:
    """Parse ``-d yyyy-MM-dd``; raises SnapshotError when malformed."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return _bad_date(text)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return _bad_date(text)


def _bad_date(text: str) -> dt.date:
    raise SnapshotError(f"invalid date '{text}': expected yyyy-MM-dd")

