"""quality_scale.yaml names every rule of Home Assistant's list, and its checkable claims hold.

The list is hassfest's ALL_RULES, kept in quality_scale_rules.txt with where it came from. A
claim is checked here where the code can show it; the others are read against each rule's
definition by hand (the comments in quality_scale.yaml say why a rule is not plainly done).
"""

from collections.abc import Callable
import json
from pathlib import Path
import re
import tomllib
from typing import Any

from homeassistant.const import Platform
import pytest
import yaml

REPO = Path(__file__).parents[2]
INTEGRATION = REPO / "custom_components" / "microstar_dlms"
RULES_FILE = Path(__file__).with_name("quality_scale_rules.txt")
STATUSES = {"done", "todo", "exempt"}


def _rules() -> dict[str, str]:
    """Rule name -> tier, from Home Assistant's list."""
    rules: dict[str, str] = {}
    for line in RULES_FILE.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            tier, name = line.split()
            rules[name] = tier
    return rules


def _declared() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text("utf-8"))
    rules: dict[str, Any] = data["rules"]
    return rules


def _status(value: Any) -> str:
    return str(value["status"] if isinstance(value, dict) else value)


def _modules() -> dict[str, str]:
    return {
        str(path.relative_to(INTEGRATION)): path.read_text("utf-8")
        for path in INTEGRATION.rglob("*.py")
    }


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
    return manifest


def _readme() -> str:
    return (REPO / "README.md").read_text("utf-8")


def test_the_rule_list_is_home_assistants() -> None:
    """The stored list has hassfest's four tiers and its 54 rules (commit in the file)."""
    rules = _rules()
    assert len(rules) == 54
    assert set(rules.values()) == {"bronze", "silver", "gold", "platinum"}
    assert {"docs-triggers", "docs-conditions"} <= {n for n, t in rules.items() if t == "bronze"}


def test_every_rule_is_declared_and_no_other() -> None:
    """No rule of Home Assistant's list is missing, and none is unknown."""
    declared = set(_declared())
    rules = set(_rules())
    assert sorted(rules - declared) == [], "missing from quality_scale.yaml"
    assert sorted(declared - rules) == [], "not a rule of Home Assistant's list"


@pytest.mark.parametrize("rule", sorted(_declared()))
def test_status_is_valid_and_explained(rule: str) -> None:
    """As hassfest's schema: done/todo, or a status with a comment; ours: every todo and
    exempt says why."""
    value = _declared()[rule]
    assert _status(value) in STATUSES
    if _status(value) != "done":
        assert isinstance(value, dict), f"{rule}: say why in a comment"
        assert set(value) == {"status", "comment"}
        assert str(value["comment"]).strip()


# -- claims the code can show ------------------------------------------------------------------


def _no_trigger_platforms() -> None:
    """docs-triggers exempt: the integration provides no triggers."""
    assert not {"trigger.py", "device_trigger.py"} & set(_modules())


def _no_condition_platforms() -> None:
    """docs-conditions exempt: the integration provides no conditions."""
    assert not {"condition.py", "device_condition.py"} & set(_modules())


def _every_action_documented() -> None:
    """docs-actions done: each action of services.yaml is described in the README."""
    actions = yaml.safe_load((INTEGRATION / "services.yaml").read_text("utf-8"))
    readme = _readme()
    for action in actions:
        assert f"microstar_dlms.{action}" in readme, action


def _runtime_data_only() -> None:
    """runtime-data done: nothing of a config entry is kept in hass.data."""
    for name, text in _modules().items():
        assert not re.search(r"hass\.data\b.*entry_id", text), name


def _platforms_set_parallel_updates() -> None:
    """parallel-updates done: every entity platform module sets PARALLEL_UPDATES."""
    platforms = {f"{platform.value}.py" for platform in Platform} & set(_modules())
    assert platforms
    for name in platforms:
        assert re.search(r"^PARALLEL_UPDATES\b", _modules()[name], re.M), name


def _has_codeowners() -> None:
    """integration-owner done: manifest.json names an owner."""
    assert _manifest()["codeowners"]


def _brand_images() -> None:
    """brands done: icon and logo in brand/, the icon square at 256 and 512 px."""
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        header = (INTEGRATION / "brand" / name).read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(header[16:20]), int.from_bytes(header[20:24])) == (size, size)
    assert (INTEGRATION / "brand" / "logo.png").is_file()


def _flow_has(step: str) -> Callable[[], None]:
    def check() -> None:
        assert f"async def async_step_{step}(" in _modules()["config_flow.py"]

    check.__doc__ = f"the config flow has async_step_{step}"
    return check


def _diagnostics() -> None:
    """diagnostics done: a config entry's diagnostics are provided."""
    assert "async def async_get_config_entry_diagnostics(" in _modules()["diagnostics.py"]


def _icons_translated() -> None:
    """icon-translations done: icons.json, and no entity sets its icon in code."""
    assert (INTEGRATION / "icons.json").is_file()
    for name, text in _modules().items():
        assert not re.search(r"_attr_icon\b|\bicon=", text), name


def _no_options_flow() -> None:
    """docs-configuration-parameters exempt: there is no options flow."""
    assert "OptionsFlow" not in _modules()["config_flow.py"]


def _not_discoverable() -> None:
    """discovery exempt: the manifest declares no discovery method."""
    methods = {"bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf"}
    assert not methods & set(_manifest())


def _no_http() -> None:
    """inject-websession exempt: nothing talks HTTP."""
    for name, text in _modules().items():
        assert "aiohttp" not in text, name
        assert "httpx" not in text, name


def _entities_subscribe_to_nothing() -> None:
    """entity-event-setup exempt: no entity module subscribes to events itself."""
    for name in ("entity.py", *(f"{platform.value}.py" for platform in Platform)):
        text = _modules().get(name, "")
        assert not re.search(r"async_track_|bus\.async_listen|async_dispatcher_connect", text)


def _strict_typing() -> None:
    """strict-typing done: mypy --strict over the integration, no module silenced."""
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True
    assert "custom_components.microstar_dlms" in mypy["packages"]
    for override in mypy.get("overrides", []):
        assert not any(m.startswith("custom_components") for m in override["module"])
    for name, text in _modules().items():
        assert "# type: ignore" not in text or "# type: ignore[" in text, name


def _readme_section(title: str) -> Callable[[], None]:
    def check() -> None:
        assert f"\n## {title}\n" in _readme()

    check.__doc__ = f"the README has a '{title}' section"
    return check


CLAIMS: dict[tuple[str, str], Callable[[], None]] = {
    ("brands", "done"): _brand_images,
    ("docs-actions", "done"): _every_action_documented,
    ("docs-conditions", "exempt"): _no_condition_platforms,
    ("docs-installation-instructions", "done"): _readme_section("Installation"),
    ("docs-removal-instructions", "done"): _readme_section("Removing the integration"),
    ("docs-triggers", "exempt"): _no_trigger_platforms,
    ("entity-event-setup", "exempt"): _entities_subscribe_to_nothing,
    ("runtime-data", "done"): _runtime_data_only,
    ("docs-configuration-parameters", "exempt"): _no_options_flow,
    ("docs-installation-parameters", "done"): _readme_section("Configuration options"),
    ("integration-owner", "done"): _has_codeowners,
    ("parallel-updates", "done"): _platforms_set_parallel_updates,
    ("reauthentication-flow", "done"): _flow_has("reauth"),
    ("diagnostics", "done"): _diagnostics,
    ("discovery", "exempt"): _not_discoverable,
    ("docs-data-update", "done"): _readme_section("How data is updated"),
    ("docs-known-limitations", "done"): _readme_section("Known limitations"),
    ("docs-supported-devices", "done"): _readme_section("Supported devices"),
    ("docs-troubleshooting", "done"): _readme_section("Troubleshooting"),
    ("icon-translations", "done"): _icons_translated,
    ("reconfiguration-flow", "done"): _flow_has("reconfigure"),
    ("inject-websession", "exempt"): _no_http,
    ("strict-typing", "done"): _strict_typing,
}
CLAIMED = sorted(key for key in CLAIMS if _status(_declared().get(key[0])) == key[1])


def test_claims_have_a_rule() -> None:
    """Every checked claim names a rule of the list and a status (no stale entry here)."""
    for rule, status in CLAIMS:
        assert rule in _rules(), rule
        assert status in STATUSES, rule


@pytest.mark.parametrize(("rule", "status"), CLAIMED, ids=[f"{r}-{s}" for r, s in CLAIMED])
def test_claim_holds(rule: str, status: str) -> None:
    """What quality_scale.yaml claims for the rule is true of the code and the README."""
    CLAIMS[rule, status]()
