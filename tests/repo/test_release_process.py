"""A release is the manifest's version, the CHANGELOG's newest entry and a tag: they agree."""

import json
from pathlib import Path
import re
import tomllib

from awesomeversion import AwesomeVersion

REPO = Path(__file__).parents[2]
MANIFEST = REPO / "custom_components" / "microstar_dlms" / "manifest.json"
HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>.+))?$", re.M)
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
# HACS's HACS_MANIFEST_JSON_SCHEMA (hacs/integration, custom_components/hacs/utils/validate.py):
# these keys and no other; render_readme is still accepted but HACS 2 ignores it (README shown).
HACS_JSON_KEYS = {
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "name",
    "persistent_directory",
    "zip_release",
}


def _changelog_versions() -> list[tuple[str, str | None]]:
    """(version, date) of each CHANGELOG heading, newest first; [Unreleased] skipped."""
    text = (REPO / "CHANGELOG.md").read_text("utf-8")
    return [
        (match["version"], match["date"])
        for match in HEADING.finditer(text)
        if match["version"] != "Unreleased"
    ]


def test_manifest_version_is_the_newest_changelog_entry() -> None:
    """manifest.json (what HACS and Home Assistant show) and pyproject say the same version."""
    manifest = json.loads(MANIFEST.read_text("utf-8"))["version"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert _changelog_versions(), "CHANGELOG.md has no version entry"
    assert manifest == _changelog_versions()[0][0]
    assert project == manifest


def test_changelog_entries_are_ordered_and_dated() -> None:
    """Semantic versions, newest first; only the newest may still be unreleased."""
    entries = _changelog_versions()
    for version, _ in entries:
        assert SEMVER.match(version), version
    versions = [AwesomeVersion(version) for version, _ in entries]
    assert versions == sorted(versions, reverse=True)
    assert len(set(versions)) == len(versions)
    for index, (version, date) in enumerate(entries):
        if index == 0 and date == "Unreleased":
            continue
        assert date is not None, version
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), version


def test_hacs_json_has_only_keys_hacs_accepts() -> None:
    """HACS rejects unknown keys in hacs.json; name is required."""
    hacs = json.loads((REPO / "hacs.json").read_text("utf-8"))
    assert "name" in hacs
    assert set(hacs) <= HACS_JSON_KEYS, set(hacs) - HACS_JSON_KEYS


def test_readme_says_how_a_release_is_cut() -> None:
    """The README's Releasing section names the manifest, the CHANGELOG and the tag."""
    readme = (REPO / "README.md").read_text("utf-8")
    assert "\n## Releasing\n" in readme
    releasing = readme.split("\n## Releasing\n", 1)[1].split("\n## ", 1)[0]
    for needle in ("manifest.json", "CHANGELOG.md", "vX.Y.Z", "GitHub release"):
        assert needle in releasing, needle
