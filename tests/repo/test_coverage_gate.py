"""scripts/coverage_gate.py on a small synthetic package and its coverage data."""

from collections.abc import Callable
import importlib.util
from pathlib import Path
from types import ModuleType

from coverage import CoverageData
import pytest

GATE_PATH = Path(__file__).parents[2] / "scripts" / "coverage_gate.py"
LINES = 20


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_gate", GATE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """custom_components/microstar_dlms with three modules of 20 statements and an empty one."""
    root = tmp_path / "custom_components" / "microstar_dlms"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    for name in ("good.py", "weak.py", "never.py"):
        (root / name).write_text("".join(f"x{i} = {i}\n" for i in range(1, LINES + 1)))
    (tmp_path / "coveragerc").write_text("[run]\nbranch = False\n")
    return root


def _measure(package: Path, executed: dict[str, int]) -> Path:
    """A coverage data file in which the first N lines of each named module ran."""
    data_file = package.parents[1] / ".coverage"
    data = CoverageData(basename=str(data_file))
    data.add_lines(
        {str(package / name): list(range(1, count + 1)) for name, count in executed.items()}
    )
    data.write()
    return data_file


def _quality_scale(package: Path, status: str) -> Path:
    path = package / "quality_scale.yaml"
    if status == "done":
        path.write_text("rules:\n  test-coverage: done\n")
    else:
        path.write_text(f"rules:\n  test-coverage:\n    status: {status}\n    comment: why\n")
    return path


def _run(package: Path, data_file: Path, status: str) -> Callable[[], int]:
    argv = [
        "--data-file",
        str(data_file),
        "--package",
        str(package),
        "--quality-scale",
        str(_quality_scale(package, status)),
        "--config",
        str(package.parents[1] / "coveragerc"),
    ]
    return lambda: int(_gate().main(argv))


def test_module_coverage_counts_unimported_modules_as_zero(package: Path) -> None:
    """Each module's percentage; a module never imported is 0 %, an empty one 100 %."""
    data_file = _measure(package, {"good.py": 20, "weak.py": 18})
    figures = {
        path.name: percent
        for path, percent in _gate()
        .module_coverage(data_file, package, package.parents[1] / "coveragerc")
        .items()
    }
    assert figures == {"__init__.py": 100.0, "good.py": 100.0, "weak.py": 90.0, "never.py": 0.0}


def test_fails_when_done_is_claimed_below_95(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """test-coverage done and a module at 90 %: the gate fails and names the module."""
    data_file = _measure(package, {"good.py": 20, "weak.py": 18, "never.py": 20})
    assert _run(package, data_file, "done")() == 1
    out = capsys.readouterr().out
    assert "custom_components/microstar_dlms/weak.py: 90.0 %" in out
    assert "good.py" not in out
    assert "says test-coverage is done" in out


def test_an_unimported_module_fails_a_done_claim(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module no test imports is below the bar too."""
    data_file = _measure(package, {"good.py": 20, "weak.py": 20})
    assert _run(package, data_file, "done")() == 1
    assert "never.py: 0.0 %" in capsys.readouterr().out


def test_passes_when_every_module_is_at_95(package: Path) -> None:
    """Exactly 95 % holds the bar (19 of 20 statements)."""
    data_file = _measure(package, {"good.py": 20, "weak.py": 19, "never.py": 20})
    assert _run(package, data_file, "done")() == 0


@pytest.mark.parametrize("status", ["todo", "exempt"])
def test_only_lists_when_not_claimed(
    package: Path, status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """test-coverage not claimed: the modules below the bar are listed, the run passes."""
    data_file = _measure(package, {"good.py": 20, "weak.py": 18})
    assert _run(package, data_file, status)() == 0
    out = capsys.readouterr().out
    assert "weak.py: 90.0 %" in out
    assert "not claimed" in out


def test_missing_data_is_an_error(package: Path) -> None:
    """No coverage data (pytest did not run): the gate does not pass silently."""
    assert _run(package, package.parents[1] / ".coverage", "done")() == 2
