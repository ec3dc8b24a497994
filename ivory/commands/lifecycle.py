"""Handlers of ``ivory backup`` and ``ivory restore`` (D5.4); see :mod:`ivory.backup`."""

from __future__ import annotations

import argparse
import sys


def run_backup(args: argparse.Namespace) -> int:
    """``ivory backup DEST [--data]``: copy the head state (and with ``--data`` its published
    files) of the repository to DEST; prints one summary line."""
    from ivory.backup import backup
    from ivory.commands import _open

    repository = _open(args)
    report = backup(repository, args.destination, data=args.data,
                    echo=lambda line: print(line, file=sys.stderr))
    print(report.summary(f"Backed up {repository.location} to {args.destination}:"))
    if report.not_copied:
        print(f"{len(report.not_copied)} published objects' data files were not copied "
              "(use --data to copy them)", file=sys.stderr)
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """``ivory restore SRC [--data] [-r TARGET]``: restore the backup at SRC into the empty or
    absent repository location TARGET; prints one summary line."""
    from ivory.backup import restore
    from ivory.cli import repository_location
    from ivory.commands import _banner

    target = repository_location(args)
    _banner(target, args.command)
    report = restore(args.source, target, data=args.data,
                     echo=lambda line: print(line, file=sys.stderr))
    print(report.summary(f"Restored {args.source} into {target}:"))
    if report.not_copied:
        print(f"data files of {len(report.not_copied)} published objects were not restored "
              "(use --data); 'ivory verify' reports them missing unless the repository's "
              "data lives elsewhere", file=sys.stderr)
    return 0
