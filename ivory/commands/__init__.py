"""Handlers of the ``ivory`` sub-commands: ``run_<command>(args) -> exit status``.

Each handler turns parsed arguments into one library call and prints its result (§12). Heavy
modules (pyspark) are imported only by the handlers that run Spark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from ivory import __version__
from ivory.errors import DictionaryError, IvoryError


def _banner(location: str, command: str) -> None:
    print(f"ivory {__version__} {command}: repository {location}", file=sys.stderr)


def _open(args: argparse.Namespace):  # -> Repository
    from ivory.cli import repository_location
    from ivory.repository import Repository

    location = repository_location(args)
    _banner(location, args.command)
    return Repository.open(location)


def run_create_repository(args: argparse.Namespace) -> int:
    from ivory.repository import Repository

    repository, created = Repository.create(args.path, args.timezone, args.data)
    config = repository.config()
    if created:
        print(f"Created configuration: version {config.version}, time zone {config.timezone}, "
              f"at {args.path}")
    else:
        print(f"Repository {args.path} already exists (time zone {config.timezone})")
    return 0


def run_config(args: argparse.Namespace) -> int:
    print(_open(args).config().render())
    return 0


def run_update(args: argparse.Namespace) -> int:
    """``ivory update``: upgrade old metadata to the current version; one line (§2.6)."""
    from ivory.cli import repository_location
    from ivory.repository import Repository
    from ivory.update import update

    location = repository_location(args)
    _banner(location, args.command)
    result = update(Repository.open(location, check_version=False),
                    echo=lambda line: print(line, file=sys.stderr))
    print(result.message())
    return 0


def run_cat_dictionary(args: argparse.Namespace) -> int:
    from ivory.dictionary import render_dictionary
    from ivory.metadata import Version

    repository = _open(args)
    version = Version.parse(args.name) if args.name else None
    print(render_dictionary(repository.dictionary(version=version)))
    return 0


def read_text_files(path: str) -> list[tuple[str, str]]:
    """``(path, text)`` of a file, or of every visible file directly in a directory, in name
    order (§3.2 ``-p``); local paths or URIs (``s3://bucket/dictionaries``).

    Raises:
        IvoryError: nothing at ``path``, or a file that is not UTF-8 text.
    """
    from ivory.storage import open_storage

    parent, _, name = path.rstrip("/").rpartition("/")
    storage = open_storage(parent or ("/" if path.startswith("/") else "."))
    if name and storage.exists(name):
        found = [(storage, name, path)]
    else:
        storage = open_storage(path)
        found = [(storage, e.key, f"{path.rstrip('/')}/{e.key}")
                 for e in storage.list("", "/")
                 if not e.is_prefix and not e.key.startswith((".", "_"))]
    if not found:
        raise IvoryError(f"{path} does not exist or holds no file")
    out = []
    for store, key, shown in found:
        try:
            out.append((shown, store.read(key).decode("utf-8")))
        except UnicodeDecodeError as e:
            raise IvoryError(f"{shown} is not UTF-8 text (byte {e.start}): {e.reason}") from e
    return out


def _clip(message: str, limit: int = 1000) -> str:
    """A message cut to ``limit`` characters: an enormous input line quoted in a parse error
    is not echoed back whole."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} chars)"


def run_import_dictionary(args: argparse.Namespace) -> int:
    from ivory.dictionaries import import_dictionary

    repository = _open(args)
    files = read_text_files(args.path)
    try:
        messages = import_dictionary(repository, files, update=args.update, force=args.force)
    except DictionaryError as e:
        for message in e.messages:
            print(_clip(message))
        print(f"ivory import-dictionary: Invalid dictionary {args.path}", file=sys.stderr)
        return 1
    for message in messages:
        print(message)
    print(f"Successfully imported dictionary {args.path} into {repository.location}")
    return 0


def _runner(args: argparse.Namespace, repository=None):  # -> LocalRunner | EmrRunner
    """The runner of ``--runner`` (local Spark, EMR or emr-local)."""
    from ivory.runner import LocalRunner, make_runner

    kind = getattr(args, "runner", "local")
    if kind == "local" and not getattr(args, "dry_run", False):
        return LocalRunner(settings=args.defines or None)
    command = " ".join(["ivory", *(a for a in sys.argv[1:]
                                   if not a.startswith("-D") and a != "--dry-run")])
    return make_runner(kind, repository.data if repository is not None else None,
                       profile=getattr(args, "profile", "default"),
                       dry_run=getattr(args, "dry_run", False), settings=args.defines,
                       command=command, repository=getattr(repository, "location", None))


def _open_for_run(args: argparse.Namespace):  # -> Repository | DryRunRepository
    """The repository; with ``--dry-run`` a view that allocates and writes nothing."""
    repository = _open(args)
    if getattr(args, "dry_run", False):
        from ivory.emr.dry_run import DryRunRepository

        return DryRunRepository(repository)
    return repository


def _dry_run_done(error: Exception) -> bool:
    from ivory.emr.launch import DryRunDone

    return isinstance(error, DryRunDone)


def run_ingest(args: argparse.Namespace) -> int:
    from ivory.ingest import ingest

    repository = _open_for_run(args)
    runner = _runner(args, repository)
    started = time.monotonic()
    try:
        result = ingest(repository, args.input, runner, timezone=args.timezone)
    except IvoryError as e:
        if _dry_run_done(e):
            return 0
        raise
    seconds = time.monotonic() - started
    print(f"Successfully imported '{', '.join(args.input)}' as {result.factset_id} into "
          f"'{repository.location}'" if result.committed else
          f"No fact was ingested from '{', '.join(args.input)}': factset {result.factset_id} "
          "was not added to the store")
    print(f"facts {result.facts}, errors {result.errors}, partitions {result.partitions}, "
          f"{seconds:.1f} s", file=sys.stderr)
    if result.errors:
        print(f"{result.errors} lines were rejected: ivory cat-errors "
              f"'{repository.location}/errors/{result.factset_id}/*'", file=sys.stderr)
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    from ivory.planning import check_snapshot_date, parse_output_spec
    from ivory.snapshot import snapshot

    date = check_snapshot_date(args.date) if args.date else dt.date.today()
    outputs = [parse_output_spec(o) for o in args.output]
    repository = _open_for_run(args)
    print(f"snapshot date {date:%Y/%m/%d}, outputs: "
          f"{', '.join(args.output) if args.output else 'none'}", file=sys.stderr)
    try:
        result = snapshot(repository, date, outputs, _runner(args, repository),
                          missing=args.missing_value, strategy=args.plan_strategy)
    except IvoryError as e:
        if _dry_run_done(e):
            return 0
        raise
    how = ("reused" if result.reused else
           f"incremental from {result.incremental_from}" if result.incremental_from else "full")
    print(f"Snapshot complete: {result.snapshot_id} ({how}, {result.facts} facts)")
    return 0


def run_chord(args: argparse.Namespace) -> int:
    from ivory.chord import chord, parse_chord_output, read_entities

    outputs = [parse_chord_output(o) for o in args.output]
    if not outputs:
        raise IvoryError("chord needs at least one output: -o FORMAT=PATH, e.g. "
                         "-o sparse:psv=/out/chord")
    requests = read_entities(args.entities)
    repository = _open_for_run(args)
    print(f"chord of {len(requests.pairs)} entity dates ({requests.entities} entities, "
          f"{requests.earliest:%Y/%m/%d} to {requests.latest:%Y/%m/%d}), outputs: "
          f"{', '.join(args.output)}", file=sys.stderr)
    started = time.monotonic()
    try:
        result = chord(repository, requests, outputs, _runner(args, repository),
                       missing=args.missing_value, strategy=args.plan_strategy,
                       take_snapshot=not args.no_snapshot)
    except IvoryError as e:
        if _dry_run_done(e):
            if not args.no_snapshot:
                print("dry run: this is the flow of the seed snapshot; the chord's own flow is "
                      "planned after it (see it with --no-snapshot)", file=sys.stderr)
            return 0
        raise
    seed = (f"from snapshot {result.snapshot_id}"
            f"{' (reused)' if result.snapshot_reused else ''}" if result.snapshot_id
            else "without a snapshot")
    print(f"Chord complete: {result.requests} entity dates, {seed}")
    lines = ", ".join(f"{path} {n} lines" for path, n in result.extract_lines)
    print(f"{lines}, {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def run_debug_dump_facts(args: argparse.Namespace) -> int:
    from ivory.debug import dump_facts
    from ivory.identifiers import parse_identifier
    from ivory.storage import open_storage

    repository = _open(args)
    factsets = [parse_identifier(f) for f in args.factset]
    snapshots = [parse_identifier(s) for s in args.snapshot]
    lines = dump_facts(repository, factsets, snapshots, args.entity, args.attribute)
    if args.output:
        storage = open_storage(args.output)
        with storage.open_write("part-m-00000") as handle:
            for line in lines:
                handle.write((line + "\n").encode("utf-8"))
    else:
        out = sys.stdout
        for line in lines:
            out.write(line + "\n")
    return 0


def run_debug_dump_reduction(args: argparse.Namespace) -> int:
    from ivory.debug_reduction import dump_reduction
    from ivory.identifiers import parse_identifier
    from ivory.storage import open_storage

    repository = _open(args)
    lines = list(dump_reduction(repository, parse_identifier(args.snapshot), args.entity,
                                args.feature))
    with open_storage(args.output).open_write("part-m-00000") as handle:
        for line in lines:
            handle.write((line + "\n").encode("utf-8"))
    return 0


def run_cat_errors(args: argparse.Namespace) -> int:
    from ivory.debug import cat_errors

    cat_errors(args.paths, args.delimiter, sys.stdout)
    return 0


def run_count_facts(args: argparse.Namespace) -> int:
    from ivory.debug import count_facts

    print(count_facts(args.path))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ivory.verify import verify_repository

    report = verify_repository(_open(args))
    for problem in report.problems:
        print(problem.render())
    print(report.summary())
    return 0 if report.ok else 1


def run_ls(args: argparse.Namespace) -> int:
    from ivory.verify import object_states, render_object_states

    for line in render_object_states(object_states(_open(args))):
        print(line)
    return 0


def run_gc(args: argparse.Namespace) -> int:
    from ivory.gc import collect_garbage, parse_duration

    grace, retain = parse_duration(args.grace), parse_duration(args.retain)
    report = collect_garbage(_open(args), grace, retain, dry_run=args.dry_run)
    print(report.summary(args.dry_run))
    return 0


def run_package(args: argparse.Namespace) -> int:
    from ivory.package import build_package

    print(build_package(args.output))
    if getattr(args, "upload", False):
        from ivory.emr.launch import upload_package

        print(upload_package(_open(args).data))
    return 0


def run_emr(args: argparse.Namespace) -> int:
    from ivory.commands.emr import run_emr as run

    return run(args)

# backup and restore (D5.4) live in their own module; re-exported for the CLI's dispatch.
from ivory.commands.lifecycle import run_backup, run_restore  # noqa: E402, F401
