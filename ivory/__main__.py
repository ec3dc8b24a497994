"""``python -m ivory`` runs the command line."""

from __future__ import annotations

import sys

from ivory.cli import main

sys.exit(main())
