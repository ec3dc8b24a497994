"""``ivory emr list|status|logs|terminate``: ivory's job flows on EMR, found by their tags
(D4.3: EMR tags and the EMR API are the only record; no state store).

* ``list``: active clusters tagged ``ivory:repository``, with state, name, repository, command;
* ``status ID``: the cluster's state and reason, each step's state, and where the logs are;
* ``logs ID``: the log locations, and each failed (or, with ``--all``, every) step's stderr
  read from the log URI on S3 when it can be reached;
* ``terminate ID``: ``TerminateJobFlows``.

The region is ``--region``, else ``$AWS_REGION``, else the profile's.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from typing import Any

from ivory.errors import IvoryError, KeyNotFoundError, StorageError


def add_emr_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``emr`` sub-commands."""
    parser.add_argument("--profile", default="default", metavar="NAME",
                        help="EMR profile conf/emr-NAME.json (its region)")
    parser.add_argument("--region", help="AWS region (default: $AWS_REGION, or the profile's)")
    sub = parser.add_subparsers(dest="emr_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="active clusters started by ivory")
    for name, text in (("status", "a cluster's state, its steps and log locations"),
                       ("logs", "log locations, and failed steps' stderr from S3"),
                       ("terminate", "terminate a cluster")):
        p = sub.add_parser(name, help=text)
        p.add_argument("cluster_id", metavar="ID", help="cluster id, e.g. j-2AXXXXXXGAPLF")
        if name == "logs":
            p.add_argument("--all", action="store_true", dest="all_steps",
                           help="every step's stderr")


def _client(args: argparse.Namespace) -> Any:
    from ivory.emr.client import EmrClient, make_emr_client
    from ivory.emr.profile import load_profile

    region = args.region or load_profile(args.profile).region
    return EmrClient(make_emr_client(region))


def render_cluster_line(cluster: dict[str, Any]) -> str:
    """``ID  STATE  NAME  repository=...  command=...`` of ``DescribeCluster``'s ``Cluster``."""
    from ivory.emr.client import COMMAND_TAG, REPOSITORY_TAG, tags_of

    tags = tags_of(cluster)
    return (f"{cluster['Id']}  {cluster['Status']['State']}  {cluster.get('Name', '')}  "
            f"repository={tags.get(REPOSITORY_TAG, '-')}  command={tags.get(COMMAND_TAG, '-')}")


def step_log_uri(log_uri: str | None, cluster_id: str, step_id: str, name: str = "stderr.gz"
                 ) -> str | None:
    """Where EMR puts a step's log: ``<LogUri>/<cluster>/steps/<step>/<name>``."""
    if not log_uri:
        return None
    return f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step_id}/{name}"


def render_status(cluster: dict[str, Any], steps: list[dict[str, Any]]) -> list[str]:
    """Lines of ``ivory emr status``: cluster, reason, log URI, then one line per step."""
    from ivory.emr.flow import parse_steps

    status = cluster.get("Status", {})
    change = status.get("StateChangeReason") or {}
    lines = [render_cluster_line(cluster)]
    if change:
        lines.append(f"reason: {change.get('Code', '')} {change.get('Message', '')}".rstrip())
    lines.append(f"logs: {cluster.get('LogUri') or 'no log URI (set log_uri in the profile)'}")
    for n, step in enumerate(parse_steps(steps), 1):
        line = f"step {n} {step.step_id} {step.state}: {step.name}"
        if step.reason:
            line += f" -- {step.reason}"
        log = step.log_file or step_log_uri(cluster.get("LogUri"), cluster["Id"], step.step_id)
        if step.state not in ("PENDING", "CANCELLED") and log:
            line += f" (log {log})"
        lines.append(line)
    return lines


def read_log(uri: str) -> str:
    """A log file from S3 (gunzipped when it ends in ``.gz``).

    Raises:
        StorageError: not reachable; KeyNotFoundError: not there (yet: EMR uploads logs every
            few minutes).
    """
    from ivory.storage import open_storage

    parent, _, name = uri.rpartition("/")
    data = open_storage(parent).read(name)
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def run_emr(args: argparse.Namespace) -> int:
    emr = _client(args)
    if args.emr_command == "list":
        clusters = emr.list_active()
        for cluster in clusters:
            print(render_cluster_line(cluster))
        print(f"{len(clusters)} active ivory clusters", file=sys.stderr)
        return 0
    cluster_id = args.cluster_id
    if args.emr_command == "terminate":
        emr.terminate(cluster_id)
        print(f"Terminating {cluster_id}")
        return 0
    cluster = emr.describe(cluster_id)
    steps = emr.list_steps(cluster_id)
    if args.emr_command == "status":
        for line in render_status(cluster, steps):
            print(line)
        return 0
    return _print_logs(cluster, steps, args.all_steps)


def _print_logs(cluster: dict[str, Any], steps: list[dict[str, Any]], every: bool) -> int:
    from ivory.emr.flow import parse_steps

    log_uri = cluster.get("LogUri")
    if not log_uri:
        raise IvoryError(f"cluster {cluster['Id']} has no log URI: set log_uri in the profile")
    print(f"cluster logs: {log_uri.rstrip('/')}/{cluster['Id']}/")
    shown = 0
    for step in parse_steps(steps):
        uri = step_log_uri(log_uri, cluster["Id"], step.step_id)
        print(f"step {step.step_id} {step.state}: {step.name}: {uri}")
        if uri is None or not (every or step.state == "FAILED"):
            continue
        try:
            text = read_log(uri)
        except KeyNotFoundError:
            print("  (not uploaded yet: EMR copies logs to S3 every few minutes)")
            continue
        except StorageError as e:
            print(f"  (cannot read it: {e})")
            continue
        shown += 1
        print(f"----- stderr of {step.step_id} -----")
        print(text.rstrip("\n"))
    if not shown and not every:
        print("no failed step: ivory emr logs --all ID prints every step's stderr",
              file=sys.stderr)
    return 0
