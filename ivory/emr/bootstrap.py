"""Where the EMR bootstrap scripts live: the one reference to them (style item 10)."""

from __future__ import annotations

from pathlib import Path

#: ``bootstrap/`` at the root of the source tree: versioned scripts run on every node.
BOOTSTRAP_DIR = Path(__file__).resolve().parents[2] / "bootstrap"

#: Installs the jobs' Python dependencies (pyarrow, thrift, boto3) for python3.11.
BOOTSTRAP_SCRIPT = BOOTSTRAP_DIR / "install-python-deps.sh"
