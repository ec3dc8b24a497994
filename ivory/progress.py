"""Progress of Spark jobs on the terminal (D6.1), read from Spark's status tracker.

A daemon thread polls ``SparkContext.statusTracker()`` every ``interval_secs`` seconds and
shows completed/total tasks of the active stages on stderr with rich. Nothing is shown when
stderr is not a terminal.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkProgress:
    """Context manager that shows a progress bar for the Spark work done inside it.

    Args:
        spark: the session whose jobs to watch.
        description: what the bar is labelled with (e.g. ``"ingest"``).
        interval_secs: polling period in seconds.
        enabled: force on/off; default: on when stderr is a terminal.
    """

    def __init__(self, spark: SparkSession, description: str, interval_secs: float = 0.25,
                 enabled: bool | None = None) -> None:
        self._spark = spark
        self._description = description
        self._interval = interval_secs
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SparkProgress:
        if self._enabled:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        tracker = self._spark.sparkContext.statusTracker()
        columns = ("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(self._description, total=None)
            # Tasks of every stage seen so far: (completed, total) by stage id.
            seen: dict[int, tuple[int, int]] = {}
            while not self._stop.wait(self._interval):
                for stage_id in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(stage_id)
                    if info is not None:
                        seen[stage_id] = (info.numCompletedTasks, info.numTasks)
                completed = sum(c for c, _ in seen.values())
                total = sum(t for _, t in seen.values())
                progress.update(task, completed=completed, total=max(total, 1))
