"""What hassfest would check on a core integration, for this custom one: manifest and strings."""

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import string
from typing import Any

from awesomeversion import AwesomeVersion
from packaging.requirements import Requirement
import pytest

from custom_components.microstar_dlms.catalogue import CATALOGUE, CHANNEL_SOURCES
from custom_components.microstar_dlms.dlms import errors
from custom_components.microstar_dlms.event import ATTR_METER_TIME, EVENTS
from custom_components.microstar_dlms.meter_io import MeterIdentityError, error_kind
from custom_components.microstar_dlms.poll_health import FIXABLE, SEVERITY
from custom_components.microstar_dlms.sensor import SENSORS

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "microstar_dlms"
LANGUAGES = ("en", "es")


def _translations(language: str) -> dict[str, Any]:
    return json.loads((INTEGRATION / "translations" / f"{language}.json").read_text("utf-8"))


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_manifest_keys_and_order() -> None:
    """domain and name first, then the rest sorted, as hassfest demands; values valid."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for required in (
        "codeowners",
        "config_flow",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "requirements",
        "version",
    ):
        assert required in manifest, required
    assert manifest["domain"] == "microstar_dlms"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_polling"
    assert manifest["integration_type"] in {"device", "hub", "service"}
    assert AwesomeVersion(manifest["version"]).valid
    # Custom integrations may declare ranges (core integrations must pin): a range lets every
    # supported release install them under its own package_constraints.txt (tests/install).
    for requirement in manifest["requirements"]:
        assert " " not in requirement, requirement
        assert Requirement(requirement).url is None, requirement
        assert Requirement(requirement).specifier, f"{requirement} has no version bound"
    assert "serialx" in manifest["loggers"], "debug logging must capture the transport too"
    assert "quality_scale" not in manifest  # custom integrations may not claim one


def test_hacs_and_brand_files() -> None:
    """The brand images exist and are PNGs."""
    for name in ("icon.png", "logo.png"):
        assert (INTEGRATION / "brand" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_languages_have_the_same_strings() -> None:
    """Spanish has every English string, with the same placeholders, and nothing else."""
    english = dict(_leaves(_translations("en")))
    spanish = dict(_leaves(_translations("es")))
    assert set(english) == set(spanish)
    for key, text in english.items():
        assert _placeholders(text) == _placeholders(spanish[key]), key
        assert text.strip(), key
        assert spanish[key].strip(), key


@pytest.mark.parametrize("language", LANGUAGES)
def test_entity_names_and_icons(language: str) -> None:
    """Every sensor's translation key has a name; every icon belongs to a sensor."""
    names = _translations(language)["entity"]["sensor"]
    keys = {description.translation_key for description in SENSORS}
    assert keys == set(names)
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))["entity"]["sensor"]
    assert set(icons) <= keys


# How a channel's sensor is named from the meter's sensor of the same quantity (``name``).
CHANNEL_NAMING = {
    "en": {
        2: lambda name: f"Load source {name[0].lower()}{name[1:]}",
        3: lambda name: f"Standby source {name[0].lower()}{name[1:]}",
    },
    "es": {
        2: lambda name: f"{name} (fuente de la carga)",
        3: lambda name: f"{name} (fuente de reserva)",
    },
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_channel_s_sensors_are_named_for_its_source(language: str) -> None:
    """A channel's sensor is the meter's one of the same quantity, named for the channel's
    source ("Load source energy import"), so no picker offers two totals of one name; its
    icon is the meter's one."""
    names = _translations(language)["entity"]["sensor"]
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))["entity"]["sensor"]
    channels = 0
    for description in SENSORS:
        channel = CATALOGUE[description.key].channel
        if channel == 1:
            continue
        channels += 1
        key = str(description.translation_key)
        source = f"{CHANNEL_SOURCES[channel]}_"
        assert key.startswith(source), key
        meter_key = key.removeprefix(source)
        naming = CHANNEL_NAMING[language][channel]
        assert names[key]["name"] == naming(names[meter_key]["name"]), key
        assert icons.get(key) == icons.get(meter_key), key
    assert channels == 2 * (138 + 1)  # channels 2 and 3 of the guide, and their net power


def test_every_entity_has_a_device_class_or_an_icon() -> None:
    """No entity falls back to the generic icon: its device class gives one, or icons.json."""
    icons = json.loads((INTEGRATION / "icons.json").read_text("utf-8"))["entity"]
    for platform, descriptions in (("sensor", SENSORS), ("event", EVENTS)):
        bare = {
            description.translation_key
            for description in descriptions
            if description.device_class is None
            and description.translation_key not in icons[platform]
        }
        assert not bare, platform


@pytest.mark.parametrize("language", LANGUAGES)
def test_event_names_types_and_attributes(language: str) -> None:
    """Every event entity has a name, its event type's state and the attribute it fires with."""
    events = _translations(language)["entity"]["event"]
    assert {description.translation_key for description in EVENTS} == set(events)
    for description in EVENTS:
        attributes = events[description.translation_key]["state_attributes"]
        for event_type in description.event_types or ():
            assert attributes["event_type"]["state"][event_type], description.key
        assert attributes[ATTR_METER_TIME]["name"], description.key


@pytest.mark.parametrize("language", LANGUAGES)
def test_exceptions_issues_and_selectors(language: str) -> None:
    """Every exception, repair issue and selector option the code uses is translated."""
    strings = _translations(language)
    samples: list[errors.DlmsError] = [
        errors.GatewayBusy("Port already in use\r\n"),
        errors.EndpointBusy("x"),
        errors.NoAnswer("x"),
        errors.ConnectionFailed("x"),
        errors.Rfc2217NotNegotiated("x"),
        errors.AssociationRejected("x", 1),
        errors.ResponseTimeout("x"),
        errors.ProtocolError("x"),
        errors.FrameError("x"),
        MeterIdentityError("x"),
    ]
    for error in samples:
        key = error_kind(error)
        assert strings["exceptions"][key]["message"]
    for key in ("authentication_failed", "wrong_meter", "poll_timeout"):
        assert strings["exceptions"][key]["message"]
    for issue in SEVERITY:
        texts = strings["issues"][issue]
        assert texts["title"]
        # hassfest: a fixable issue's words are its fix flow's (the frontend shows no
        # description for it), an issue that is not fixable has a description only.
        if issue in FIXABLE:
            assert "description" not in texts
            steps = texts["fix_flow"]["step"]
            assert set(steps) == {"confirm", "no_answer"}
            assert all(step["description"] and step["submit"] for step in steps.values())
            assert texts["fix_flow"]["progress"]["polling"]
            assert texts["fix_flow"]["create_entry"]["default"]
        else:
            assert set(texts) == {"title", "description"}
    assert set(strings["issues"]) == set(SEVERITY)
    assert set(strings["selector"]["address_size"]["options"]) == {"auto", "1", "2", "4"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_literal_translation_key_exists(language: str) -> None:
    """Each ``translation_key="..."`` written in the code is found in the strings."""
    strings = _translations(language)
    known = (
        set(strings["exceptions"])
        | set(strings["issues"])
        | set(strings["entity"]["sensor"])
        | set(strings["entity"]["event"])
        | set(strings["device"])
        | set(strings["selector"])
    )
    for path in INTEGRATION.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "translation_key"
                and isinstance(node.value, ast.Constant)
            ):
                assert node.value.value in known, f"{path.name}: {node.value.value}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_form_error_code_exists(language: str) -> None:
    """Each error code the flow and the validation can return is translated."""
    strings = _translations(language)["config"]
    codes: set[str] = set()
    for name in ("config_flow.py", "user_input.py", "meter_io.py"):
        tree = ast.parse((INTEGRATION / name).read_text("utf-8"))
        for node in ast.walk(tree):
            # errors[...] = "code" and error = "code" (the advanced section's one error)
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and node.value.value is not None
            ):
                target = node.targets[0]
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "errors"
                ) or (isinstance(target, ast.Name) and target.id == "error"):
                    codes.add(node.value.value)
            # what a `*_error` helper and `error_kind` return
            if isinstance(node, ast.FunctionDef) and node.name.endswith(("_error", "error_kind")):
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Constant)
                        and isinstance(inner.value, str)
                        and inner.value.isidentifier()
                        and inner.value.islower()
                    ):
                        codes.add(inner.value)
            # (ErrorType, "code") pairs and `return "base", "code"`
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                first, second = node.elts
                if isinstance(second, ast.Constant) and isinstance(second.value, str):
                    if isinstance(first, ast.Name) and first.id[0].isupper():
                        codes.add(second.value)
                    if isinstance(first, ast.Constant) and first.value == "base":
                        codes.add(second.value)
    assert len(codes) > 20
    assert codes <= set(strings["error"]), codes - set(strings["error"])
