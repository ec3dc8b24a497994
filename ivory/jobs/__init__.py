"""Spark jobs: each takes a SparkSession and a plan (a JSON-serialisable dict) and runs it.

``jobs/*.py`` at the repository root are the thin ``spark-submit`` entry points; the local
runner calls :func:`run` of these modules in process (D4.1).
"""
