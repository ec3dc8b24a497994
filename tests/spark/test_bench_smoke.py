"""The benchmark (``scripts/bench``, :mod:`ivory.bench`) at a tiny size, as a smoke test:
ivory's snapshot, incremental snapshot and chord must equal the DuckDB references (and the
plain Spark window snapshot must equal DuckDB's). Correctness only: no time is asserted."""

from __future__ import annotations

import pytest

pytest.importorskip("duckdb", reason="duckdb is not installed (the 'bench' extra): "
                                     "pip install -e '.[bench]' to run the benchmark smoke test")

from ivory.bench import Config, render, run


@pytest.mark.slow
def test_benchmark_results_equal_the_references_at_a_tiny_size(spark, tmp_path):
    cfg = Config(facts=20_000, features=10, days=20, factsets=3, seed=7,
                 work=str(tmp_path / "bench"))
    result = run(cfg, spark=spark, log=lambda text: None)

    assert result.checks == {
        "ingest": "ok",
        "incremental": "ok",
        "snapshot": "ok",
        "incremental snapshot": "ok",
        "chord": "ok",
        "spark window = duckdb": "ok",
    }
    assert result.ok
    assert result.facts > 19_000  # duplicates per (entity, feature, day) collapse
    table = render(result, cfg)
    assert "ivory incremental snapshot" in table and "duckdb asof join" in table
