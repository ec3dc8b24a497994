"""Driver side of ``ivory validate``: check stored facts against the dictionary.

Plans the input (the factsets of the current store, or the ones named with ``-f``), runs the
``validate`` job (:mod:`ivory.jobs.validate`) and renders its report. Commits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivory.debug import object_files
from ivory.errors import IvoryError
from ivory.ingest import Runner
from ivory.planning import build_feature_table
from ivory.repository import Repository


@dataclass(frozen=True)
class ValidateResult:
    """Facts checked, violations per kind (in the job's kind order) and examples per kind
    (dicts with ``entity``, ``feature``, ``value``, ``date``, ``factset``, ``reason``)."""

    factsets: tuple[str, ...]
    facts: int
    counts: dict[str, int]
    examples: dict[str, list[dict[str, Any]]]

    @property
    def violations(self) -> int:
        return sum(self.counts.values())


def build_validate_plan(repository: Repository, factsets: Sequence[str] = (),
                        examples: int = 5) -> dict[str, Any]:
    """The plan of a validate job: the feature table of the current dictionary and the data
    files of ``factsets`` (default: every factset of the current store), as URIs.

    Raises:
        IvoryError: a named factset does not exist.
    """
    state = repository.state()
    dictionary = repository.dictionary(state)
    ids = list(factsets) or repository.store(state)
    sources = []
    for factset in ids:
        keys = object_files(repository, "factset", factset)
        if not keys and not repository.data.exists(f"factsets/{factset}/.allocated"):
            raise IvoryError(f"there is no factset {factset} in {repository.location}")
        sources.append({"factset": factset,
                        "files": [repository.data.uri(k) for k in keys
                                  if k.endswith(".parquet")]})
    return {"job": "validate", "examples": examples,
            "features": build_feature_table(dictionary), "sources": sources}


def validate(repository: Repository, runner: Runner, factsets: Sequence[str] = (),
             examples: int = 5) -> ValidateResult:
    """Check every fact of the store (or of ``factsets``) against the dictionary."""
    plan = build_validate_plan(repository, factsets, examples)
    result = runner.run(plan)
    return ValidateResult(tuple(s["factset"] for s in plan["sources"]), int(result["facts"]),
                          dict(result["counts"]), dict(result["examples"]))


def render_report(result: ValidateResult) -> list[str]:
    """The lines ``ivory validate`` prints: per violation kind ``<kind>: <count>`` and its
    examples ``  <entity>|<feature>|<value>|<datetime>|Factset[<id>]|<reason>``, then
    ``Validated <n> facts in <m> factsets: <v> violations``."""
    lines = []
    for kind, count in result.counts.items():
        lines.append(f"{kind}: {count}")
        for e in result.examples.get(kind, []):
            lines.append(f"  {e['entity']}|{e['feature']}|{e['value']}|{e['date']}|"
                         f"Factset[{e['factset']}]|{e['reason']}")
    lines.append(f"Validated {result.facts} facts in {len(result.factsets)} factsets: "
                 f"{result.violations} violations")
    return lines
