"""The releases we promise are the releases we test, and the manifest installs on each of them."""

import json
from pathlib import Path
import re

import homeassistant
from packaging.requirements import Requirement

REPO = Path(__file__).parents[2]
MANIFEST = REPO / "custom_components" / "microstar_dlms" / "manifest.json"


def _releases() -> list[str]:
    """ha-releases.txt, oldest first (tests/install installs each of them)."""
    lines = (REPO / "ha-releases.txt").read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_hacs_minimum_is_the_oldest_tested_release() -> None:
    """HACS offers the integration from the oldest release the install test covers."""
    hacs = json.loads((REPO / "hacs.json").read_text("utf-8"))
    assert hacs["homeassistant"] == _releases()[0]


def test_readme_names_the_tested_releases() -> None:
    """The README's Requirements section names each tested release."""
    readme = (REPO / "README.md").read_text("utf-8")
    requirements = readme.split("## Requirements", 1)[1].split("\n## ", 1)[0]
    for release in _releases():
        assert release in requirements, release


def test_manifest_installs_under_this_home_assistant() -> None:
    """The test stack's Home Assistant pins no version the manifest excludes."""
    constraints = Path(homeassistant.__file__).parent / "package_constraints.txt"
    pinned = dict(
        re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", constraints.read_text("utf-8"), re.M)
    )
    for text in json.loads(MANIFEST.read_text("utf-8"))["requirements"]:
        requirement = Requirement(text)
        version = pinned.get(requirement.name)
        assert version is None or requirement.specifier.contains(version), (text, version)


def test_tests_run_on_the_oldest_serialx_the_manifest_allows() -> None:
    """requirements_test.txt pins serialx at the manifest's lower bound (what 2026.10 ships)."""
    manifest = json.loads(MANIFEST.read_text("utf-8"))["requirements"]
    serialx = next(Requirement(r) for r in manifest if Requirement(r).name == "serialx")
    lower = next(s.version for s in serialx.specifier if s.operator == ">=")
    test_pins = (REPO / "requirements_test.txt").read_text("utf-8")
    assert re.search(rf"^serialx=={re.escape(lower)}$", test_pins, re.M), lower
