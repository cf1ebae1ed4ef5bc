"""Hold quality_scale.yaml's test-coverage claim to the coverage the test run measured.

Home Assistant's rule (test-coverage): every module of the integration is covered at 95 % or
more. Every Python file under custom_components/microstar_dlms/ counts (what HACS installs), a
file the tests never imported at 0 %. Percentages are coverage's own (statements and branches,
[tool.coverage] in pyproject.toml), unrounded. While quality_scale.yaml says test-coverage is
done, a module below the bar fails the run; otherwise the modules below it are only listed.

Usage: python scripts/coverage_gate.py [--data-file .coverage] [--package DIR]
       [--quality-scale FILE] [--config pyproject.toml]
(scripts/test runs it after a full pytest run, which writes .coverage.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import tempfile

import coverage
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "custom_components" / "microstar_dlms"
RULE = "test-coverage"
MINIMUM = 95.0


def claims_done(quality_scale: Path) -> bool:
    """Whether quality_scale.yaml marks the test-coverage rule done."""
    rules = yaml.safe_load(quality_scale.read_text("utf-8"))["rules"]
    value = rules.get(RULE)
    status = value.get("status") if isinstance(value, dict) else value
    return bool(status == "done")


def module_coverage(data_file: Path, package: Path, config: Path | str) -> dict[Path, float]:
    """Coverage of every .py file under ``package``, in percent (0 for a file never imported)."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=str(config))
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "coverage.json"
        try:
            cov.json_report(outfile=str(report), ignore_errors=True)
        except coverage.exceptions.NoDataError:
            measured = {}
        else:
            measured = json.loads(report.read_text("utf-8"))["files"]
    percents = {
        Path(name).resolve(): float(data["summary"]["percent_covered"])
        for name, data in measured.items()
    }
    result: dict[Path, float] = {}
    for path in sorted(package.rglob("*.py")):
        resolved = path.resolve()
        if resolved in percents:
            result[path] = percents[resolved]
        else:  # never imported: no statement of it ran
            statements = cov.analysis2(str(path))[1]
            result[path] = 0.0 if statements else 100.0
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the modules below the bar; fail when test-coverage is claimed done."""
    parser = argparse.ArgumentParser(description="Hold test-coverage to the measured coverage.")
    parser.add_argument("--data-file", type=Path, default=REPO / ".coverage")
    parser.add_argument("--package", type=Path, default=PACKAGE)
    parser.add_argument("--quality-scale", type=Path, default=PACKAGE / "quality_scale.yaml")
    parser.add_argument("--config", type=Path, default=REPO / "pyproject.toml")
    args = parser.parse_args(argv)
    if not args.data_file.is_file():
        print(f"[coverage gate] no coverage data at {args.data_file}: run the tests first")
        return 2
    below = {
        path: percent
        for path, percent in module_coverage(args.data_file, args.package, args.config).items()
        if percent < MINIMUM
    }
    done = claims_done(args.quality_scale)
    for path, percent in below.items():
        print(f"[coverage gate] {path.relative_to(args.package.parent.parent)}: {percent:.1f} %")
    if not below:
        print(f"[coverage gate] every module of {args.package.name} is at {MINIMUM:.0f} % or more")
        return 0
    if done:
        print(
            f"[coverage gate] {len(below)} module(s) below {MINIMUM:.0f} %, but "
            f"{args.quality_scale.name} says {RULE} is done"
        )
        return 1
    print(f"[coverage gate] {len(below)} module(s) below {MINIMUM:.0f} % ({RULE} is not claimed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
