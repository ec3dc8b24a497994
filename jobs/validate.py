"""spark-submit entry point of the validate job (the same code as the local runner, D4.1).

    spark-submit --py-files ivory.zip jobs/validate.py --plan PLAN_URI [--result RESULT_URI]
"""

from __future__ import annotations

import sys

from ivory.jobs.entry import main

if __name__ == "__main__":
    sys.exit(main("validate"))
