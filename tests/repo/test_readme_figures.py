"""The README's benchmark figures are those of the last recorded full run.

``benchmarks/results.json`` is what ``scripts/bench --out benchmarks/results.json`` wrote; the
README shows its summary between the bench markers (``python -m benchmarks.report FILE`` prints
it). A new run committed without the README, or a README edited by hand, fails here.
"""

import json
from pathlib import Path

from benchmarks.__main__ import PARTS
from benchmarks.report import markdown_summary

REPO = Path(__file__).parents[2]
RESULTS = REPO / "benchmarks" / "results.json"
START = "<!-- bench summary: python -m benchmarks.report benchmarks/results.json -->"
END = "<!-- /bench summary -->"


def _recorded() -> dict[str, object]:
    report: dict[str, object] = json.loads(RESULTS.read_text("utf-8"))
    return report


def test_the_readme_shows_the_recorded_run() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    assert START in readme, "the README has no bench summary"
    assert END in readme
    shown = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == markdown_summary(_recorded()).strip()


def test_the_recorded_run_is_a_full_one_with_every_part() -> None:
    run = _recorded()["run"]
    assert isinstance(run, dict)
    assert not run["quick"]
    assert run["parts"] == list(PARTS)
