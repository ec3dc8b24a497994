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

from ivory.commands import _open, _runner

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


def run_validate(args: argparse.Namespace) -> int:
    from ivory.identifiers import parse_identifier
    from ivory.validate import render_report, validate

    repository = _open(args)
    factsets = [parse_identifier(f) for f in args.factset]
    result = validate(repository, _runner(args), factsets, args.examples)
    for line in render_report(result):
        print(line)
    sys.stdout.flush()
    return 1 if result.violations else 0
