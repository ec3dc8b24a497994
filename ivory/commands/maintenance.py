"""Parsers and handlers of the format and maintenance commands: ``validate``, ``cat-thrift``,
``rename``, ``health-recreate``, ``factset-statistics``, ``convert-dictionary`` (§11.4,
§11.6-§11.9).

:func:`add_parsers` adds their sub-parsers to the ``ivory`` parser; ``run_<command>(args)``
runs one and returns the exit status (the convention of :mod:`ivory.commands`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ivory.commands import _dry_run_done, _open, _open_for_run, _runner
from ivory.errors import IvoryError

REPOSITORY_HELP = "repository path or URI (default: $IVORY_REPOSITORY)"


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add this module's sub-commands with ``command(name, help) -> parser``."""
    p = command("validate", "check every fact of the store (or of -f factsets) against the "
                            "dictionary; prints violations per kind with examples, exit 1 "
                            "when there is any")
    p.add_argument("-f", "--factset", action="append", default=[],
                   help="check this factset only (repeatable)")
    p.add_argument("-n", "--examples", type=int, default=5,
                   help="examples to print per kind of violation (default 5)")
    p.add_argument("-r", "--repository", help=REPOSITORY_HELP)
    from ivory.cli import _add_runner

    _add_runner(p)  # --runner local|emr|emr-local, --profile, --dry-run (D4)
    _add_cat_thrift(command)

    p = command("rename", "copy facts of features under new names into a new factset (§11.8)")
    p.add_argument("-m", "--mapping", action="append", default=[],
                   metavar="FROM_NS:FROM=TO_NS:TO")
    p.add_argument("-b", "--batch", help="file of lines from_ns:from|to_ns:to")
    p.add_argument("-s", "--reducer-size", type=int, help=argparse.SUPPRESS)
    p.add_argument("-r", "--repository", help=REPOSITORY_HELP)

    p = command("health-recreate", "rewrite factsets in the current format, publishing them in "
                                   "one commit; originals move to tmp/expired (§11.7)")
    p.add_argument("-f", "--factset", action="append", required=True,
                   help="id of a factset of the store to recreate (repeatable)")
    p.add_argument("-r", "--repository", help=REPOSITORY_HELP)

    p = command("factset-statistics", "write per (feature, date) histograms and numeric "
                                      "statistics to factsets/<id>/_stats (§11.6)")
    p.add_argument("-f", "--fact-set", required=True, dest="factset")
    p.add_argument("-r", "--repository", help=REPOSITORY_HELP)

    p = command("convert-dictionary", "convert a v1 pipe dictionary to v2 text (§11.9)")
    p.add_argument("-i", "--input", required=True)
    p.add_argument("-o", "--output", required=True)


def _add_cat_thrift(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    p = command("cat-thrift", "print Thrift SequenceFiles (dense/sparse extracts, ingest facts) "
                              "as text part files (§11.4; uncompressed or compressed with "
                              "Default/Deflate, Gzip, BZip2, Snappy or Lz4)")
    p.add_argument("-f", "--format", required=True, choices=["dense", "sparse", "fact"])
    p.add_argument("-e", "--entity", action="append", default=[])
    p.add_argument("-o", "--output", required=True, help="directory for the part files")
    p.add_argument("input", metavar="INPUT", help="SequenceFile, directory or glob")


def run_cat_thrift(args: argparse.Namespace) -> int:
    from ivory.debug import thrift_lines
    from ivory.storage import open_storage

    lines = thrift_lines(args.input, args.format, args.entity)
    with open_storage(args.output).open_write("part-m-00000") as handle:
        for line in lines:
            handle.write((line + "\n").encode("utf-8"))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from ivory.identifiers import parse_identifier
    from ivory.validate import render_report, validate

    repository = _open_for_run(args)
    factsets = [parse_identifier(f) for f in args.factset]
    try:
        result = validate(repository, _runner(args, repository), factsets, args.examples)
    except IvoryError as e:
        if _dry_run_done(e):
            return 0
        raise
    for line in render_report(result):
        print(line)
    sys.stdout.flush()
    return 1 if result.violations else 0


def run_rename(args: argparse.Namespace) -> int:
    from ivory.rename import parse_mappings, rename

    repository = _open(args)
    batch = None
    if args.batch:
        with open(args.batch, encoding="utf-8") as handle:
            batch = handle.read()
    factset, count = rename(repository, parse_mappings(args.mapping, batch))
    print(f"Successfully renamed {count} facts to new factset {factset}")
    return 0


def run_health_recreate(args: argparse.Namespace) -> int:
    from ivory.identifiers import parse_identifier
    from ivory.recreate import health_recreate, render_recreated

    repository = _open(args)
    factsets = [parse_identifier(f) for f in args.factset]
    recreated = health_recreate(repository, factsets,
                                echo=lambda line: print(line, file=sys.stderr))
    for line in render_recreated(recreated, repository.data.uri):
        print(line)
    return 0


def run_factset_statistics(args: argparse.Namespace) -> int:
    from ivory.identifiers import parse_identifier
    from ivory.maintenance import factset_statistics

    repository = _open(args)
    factset = parse_identifier(args.factset)
    key, lines = factset_statistics(repository, factset)
    if key is None:
        print(f"warning: no factset {factset} (legacy id) in {repository.location}: "
              "no statistics written", file=sys.stderr)
    else:
        print(f"{lines} statistics lines in {repository.data.uri(key)}", file=sys.stderr)
    print("\U0001f3b9 ")
    return 0


def run_convert_dictionary(args: argparse.Namespace) -> int:
    from ivory.maintenance import convert_dictionary

    print(convert_dictionary(args.input, args.output))
    return 0
