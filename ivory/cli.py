"""The ``ivory`` command line (§12, D6): a table of sub-commands with lazy imports.

Every command prints its result on stdout, diagnostics on stderr, and exits 0 on success and
1 on failure with a one-line error (``--verbose`` adds the traceback). Commands that need no
Spark never start a JVM.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from ivory import __version__
from ivory.errors import IvoryError, UsageError

REPOSITORY_HELP = "repository path or URI (default: $IVORY_REPOSITORY)"


def repository_location(args: argparse.Namespace) -> str:
    """``-r`` or ``$IVORY_REPOSITORY`` (or the deprecated ``$REPOSITORY``), §12.1."""
    location = (getattr(args, "repository", None) or os.environ.get("IVORY_REPOSITORY")
                or os.environ.get("REPOSITORY"))
    if not location:
        raise UsageError(
            "-r|--repository was missing or environment variable IVORY_REPOSITORY not set")
    return location


def _add_repository(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--repository", help=REPOSITORY_HELP)


def _add_extract_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", action="append", default=[], metavar="FORMAT=PATH",
                        help="extract output FORM:FILEFORMAT=PATH: FORM dense|sparse, FILEFORMAT "
                             "[delimited|escaped:]psv|csv|tsv[:json|deprecated] or thrift, "
                             "e.g. dense:psv=/tmp/dense (repeatable, §9.1)")
    parser.add_argument("--missing-value", default="NA",
                        help="text for missing values and tombstones (default NA)")
    parser.add_argument("--sample-rate", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--plan-strategy", default="pessimistic",
                        choices=["pessimistic", "conservative", "optimistic"],
                        help="how to pick an earlier snapshot to start from (§7.4)")
    parser.add_argument("--shadow-repository", help=argparse.SUPPRESS)
    parser.add_argument("--sync-parallelism", type=int, default=20, help=argparse.SUPPRESS)


def _add_runner(parser: argparse.ArgumentParser, emr: bool = True) -> None:
    parser.add_argument("--runner", default="local",
                        choices=["local", "emr", "emr-local"] if emr else ["local"],
                        help="where the Spark job runs: local Spark in this process "
                             "(default), a job flow on an ephemeral EMR cluster, or the same "
                             "job flow run on this machine (emr-local)")
    if emr:
        parser.add_argument("--profile", default="default", metavar="NAME",
                            help="EMR profile conf/emr-NAME.json (with --runner emr)")
        parser.add_argument("--dry-run", action="store_true",
                            help="with --runner emr: plan, print the RunJobFlow request as "
                                 "JSON and run nothing")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (§12.2)."""
    parser = argparse.ArgumentParser(prog="ivory", description="ivory: a feature store on Spark")
    parser.add_argument("--version", action="version", version=f"ivory {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks")
        return sub

    p = command("create-repository", "create a repository (§12.2)")
    p.add_argument("-z", "--timezone", default="UTC",
                   help="repository time zone, an IANA id (default UTC)")
    p.add_argument("--data", metavar="URI",
                   help="keep factsets and snapshots here instead of beside the metadata "
                        "(another path, s3://bucket/prefix or hdfs://...)")
    p.add_argument("path", metavar="PATH", help="path or URI (s3://bucket/prefix, hdfs://...)")

    p = command("config", "print the repository config (§2.1)")
    _add_repository(p)

    p = command("update", "upgrade the repository's metadata to the current version (§2.6)")
    _add_repository(p)

    p = command("cat-dictionary", "print the dictionary (§3.5)")
    p.add_argument("-n", "--name", help="dictionary version to print (default: the current)")
    _add_repository(p)

    p = command("import-dictionary", "import a dictionary file or directory (§3.4)")
    p.add_argument("-p", "--path", required=True, help="dictionary file or directory")
    p.add_argument("-u", "--update", action="store_true",
                   help="add to the current dictionary instead of replacing it")
    p.add_argument("-f", "--force", action="store_true",
                   help="import even when validation against the current dictionary fails")
    _add_repository(p)

    p = command("ingest", "ingest text facts as a new factset (§5)")
    p.add_argument("-i", "--input", action="append", required=True,
                   metavar="FORMAT[|NAMESPACE]=PATH",
                   help="e.g. 'sparse:delimited:psv=/data/facts' (repeatable)")
    p.add_argument("-z", "--timezone", help="ingestion time zone (default: the repository's)")
    p.add_argument("-o", "--optimal-input-chunk", type=int, help=argparse.SUPPRESS)
    _add_runner(p)
    _add_repository(p)

    p = command("snapshot", "take a snapshot as of a date and extract it (§7, §9)")
    p.add_argument("-d", "--date", help="yyyy-MM-dd (default: today, local time)")
    _add_extract_options(p)
    _add_runner(p)
    _add_repository(p)

    p = command("chord", "extract feature values per entity as of chosen dates (§10)")
    p.add_argument("-c", "--entities", required=True, metavar="FILE",
                   help="lines entity|yyyy-MM-dd: the entities and the dates to extract")
    p.add_argument("--no-snapshot", action="store_true",
                   help="read the factsets directly instead of taking a snapshot at the "
                        "earliest date first (same results)")
    _add_extract_options(p)
    _add_runner(p)
    _add_repository(p)

    p = command("debug-dump-facts", "print the facts of factsets and snapshots (§11.1)")
    p.add_argument("-f", "--factset", action="append", default=[])
    p.add_argument("-s", "--snapshot", action="append", default=[])
    p.add_argument("-e", "--entity", action="append", default=[])
    p.add_argument("-a", "--attribute", action="append", default=[], metavar="NS:NAME")
    p.add_argument("-o", "--output", help="write part files into this directory instead")
    _add_repository(p)

    p = command("debug-dump-reduction",
                "replay the squash of a snapshot step by step for some entities (§11.2)")
    p.add_argument("-e", "--entity", action="append", required=True)
    p.add_argument("-f", "--feature", action="append", default=[], metavar="NS:NAME",
                   help="virtual feature, or concrete feature for all its virtual features "
                        "(repeatable; default all)")
    p.add_argument("-s", "--snapshot", required=True)
    p.add_argument("-o", "--output", required=True, help="directory to write part files into")
    _add_repository(p)

    p = command("cat-errors", "print ingest error records (§11.3)")
    p.add_argument("-d", "--delimiter", default="|")
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = command("count-facts", "count the facts in a snapshot or factset directory (§11.5)")
    p.add_argument("path", metavar="PATH")

    p = command("verify", "check published factsets and snapshots against their manifests "
                          "(sizes, MD5s, missing and extra files; D5.3)")
    _add_repository(p)

    p = command("package", "build the job package zip for spark-submit --py-files (D4.2) "
                           "and print its path")
    p.add_argument("-o", "--output", default="dist", metavar="DIR",
                   help="directory to write ivory-<hash>.zip into (default dist)")
    p.add_argument("--upload", action="store_true",
                   help="also upload it (and jobs/*.py) under the repository's "
                        "_ivory/emr/packages/, once per content, MD5-checked")
    _add_repository(p)

    p = command("ls", "list factsets and snapshots with their state (published, expired, "
                      "unpublished), size, facts and dates (D5.1)")
    _add_repository(p)

    p = command("gc", "delete unpublished data older than --grace and expired data older than "
                      "--retain, never what a retained repository version names (D5.2)")
    p.add_argument("--dry-run", action="store_true", help="print what would be deleted, only")
    p.add_argument("--grace", default="24h", help="age of unpublished data to delete (24h)")
    p.add_argument("--retain", default="30d",
                   help="age of expired data and of repository versions to keep (30d)")
    _add_repository(p)

    p = command("emr", "watch and stop ivory's job flows on EMR (D4.3): list, status, logs, "
                       "terminate")
    from ivory.commands.emr import add_emr_arguments

    add_emr_arguments(p)

    from ivory.commands.maintenance import add_parsers

    add_parsers(command)  # validate, cat-thrift, rename, health-recreate, ... (§11)

    p = command("backup", "copy the committed state (metadata; with --data also the published "
                          "files) to another location, incrementally (D5.4)")
    p.add_argument("destination", metavar="DEST", help="path or URI of the backup")
    p.add_argument("--data", action="store_true",
                   help="also copy the files of published factsets and snapshots")
    _add_repository(p)

    p = command("restore", "restore a backup into the empty or absent repository named by -r "
                           "or $IVORY_REPOSITORY (D5.4)")
    p.add_argument("source", metavar="SRC", help="path or URI of the backup")
    p.add_argument("--data", action="store_true",
                   help="also restore the files of published factsets and snapshots")
    _add_repository(p)
    return parser


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    from ivory import commands
    from ivory.commands import maintenance

    handler = "run_" + name.replace("-", "_")
    return getattr(commands, handler, None) or getattr(maintenance, handler)


def split_hidden_options(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Remove the hidden ``-Dkey=value`` options every command accepts (§12.1)."""
    rest, defines = [], {}
    for arg in argv:
        if arg.startswith("-D") and len(arg) > 2:
            key, _, value = arg[2:].partition("=")
            defines[key] = value
        else:
            rest.append(arg)
    return rest, defines


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ivory`` console script; returns the exit status."""
    raw, defines = split_hidden_options(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(raw)
    args.defines = defines
    if not args.command:
        parser.print_help()
        return 1
    try:
        return _handler(args.command)(args)
    except IvoryError as e:
        if args.verbose:
            traceback.print_exc()
        print(f"ivory {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ivory: interrupted; nothing was committed by the interrupted step",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
