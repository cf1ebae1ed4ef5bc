"""The GitHub workflows run what HACS-listed integrations run, and the README's test command."""

from pathlib import Path
import re
from typing import Any

import yaml

REPO = Path(__file__).parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
# Actions published without version tags: the ref their owners document (see validate.yml).
UNTAGGED = {"hacs/action": "main", "home-assistant/actions/hassfest": "master"}
VERSION_TAG = re.compile(r"^v\d+\.\d+\.\d+$")


def _workflow(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text("utf-8"))
    return workflow


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _triggers(workflow: dict[Any, Any]) -> set[str]:
    # YAML 1.1 reads the key `on` as True.
    return set(workflow.get("on", workflow.get(True)))


def _readme_test_command() -> str:
    """The command the README's Development section gives for the tests."""
    readme = (REPO / "README.md").read_text("utf-8")
    development = readme.split("\n## Development\n", 1)[1]
    block = development.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    tests = [command for command in commands if command.startswith("scripts/test")]
    assert len(tests) == 1, block
    return tests[0]


def test_validate_runs_hacs_and_hassfest_on_every_push() -> None:
    """HACS's action for an integration and hassfest, on push, pull request and daily."""
    workflow = _workflow("validate.yml")
    assert {"push", "pull_request", "schedule"} <= _triggers(workflow)
    uses = {step.get("uses", "").split("@")[0]: step for step in _steps(workflow)}
    assert uses["hacs/action"]["with"] == {"category": "integration"}  # no check ignored
    assert "home-assistant/actions/hassfest" in uses


def test_tests_run_the_readme_test_command() -> None:
    """tests.yml runs exactly the README's test command, on push and pull request."""
    workflow = _workflow("tests.yml")
    assert {"push", "pull_request"} <= _triggers(workflow)
    runs = [step.get("run", "").strip() for step in _steps(workflow)]
    assert _readme_test_command() in runs


def test_tests_run_where_run_in_env_provides_everything() -> None:
    """Debian 12 as root, privileged: run-in-env builds the Python 3.14 rootfs and fetches
    Debian 12's ser2net from the image's own sources (no mirror named in the repository)."""
    job = _workflow("tests.yml")["jobs"]["tests"]
    assert job["container"]["image"] == "debian:bookworm"
    assert "--privileged" in job["container"]["options"]
    assert not any(
        step.get("uses", "").startswith("actions/setup-python@") for step in job["steps"]
    )  # a host Python 3.14 would skip the rootfs, and with it Debian 12's ser2net


def test_actions_are_pinned() -> None:
    """Every action by version tag, except those published from a branch only."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for step in _steps(_workflow(path.name)):
            if "uses" not in step:
                continue
            action, _, ref = step["uses"].partition("@")
            if action in UNTAGGED:
                assert ref == UNTAGGED[action], step["uses"]
            else:
                assert VERSION_TAG.match(ref), f"{path.name}: {step['uses']}"
