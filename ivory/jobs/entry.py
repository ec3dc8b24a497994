"""The command line shared by the ``jobs/*.py`` spark-submit entry points (D4.1).

``spark-submit --py-files ivory.zip jobs/<job>.py --plan URI [--result URI] [--local]``

The plan (JSON, from :mod:`ivory.planning`) and the result are read and written through
Hadoop's FileSystem, so they may be local paths, ``hdfs://`` or ``s3a://`` URIs.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence


def make_parser(job: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"jobs/{job}.py", description=f"ivory {job} job")
    parser.add_argument("--plan", required=True, help="URI of the plan (JSON)")
    parser.add_argument("--result", help="URI to write the job's result (JSON) to")
    parser.add_argument("--local", action="store_true",
                        help="apply the local-Spark settings (laptop runs)")
    return parser


def main(job: str, argv: Sequence[str] | None = None) -> int:
    """Parse arguments, start the session, run ``ivory.jobs.<job>.run`` and write the result.

    Returns:
        0 on success; 1 when the plan is for another job (the job's own errors propagate so
        that spark-submit and EMR see the step fail).
    """
    import importlib

    from pyspark.sql import SparkSession

    from ivory.jobs.hadoop import read_text, write_text
    from ivory.spark import configure

    args = make_parser(job).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spark = configure(SparkSession.builder, local=args.local).getOrCreate()
    plan = json.loads(read_text(spark, args.plan))
    if plan.get("job") != job:
        logging.error("the plan is for the %s job, not %s", plan.get("job"), job)
        return 1
    result = importlib.import_module(f"ivory.jobs.{job}").run(spark, plan)
    logging.info("%s result: %s", job, json.dumps({k: v for k, v in result.items()
                                                   if k != "files"}))
    if args.result:
        write_text(spark, args.result, json.dumps(result))
    return 0
