"""Home Assistant finds the integration's entry points on the package, which imports nothing of
Home Assistant itself: ``__init__.py`` hands them over from ``lifecycle.py``."""

from pathlib import Path
import re
import subprocess
import sys

import homeassistant
from homeassistant.const import Platform
from homeassistant.loader import BASE_PRELOAD_PLATFORMS

import custom_components.microstar_dlms as package
from custom_components.microstar_dlms import lifecycle

REPO = Path(__file__).resolve().parents[2]
# Where Home Assistant looks names up on an integration's package: its loader, setup, config
# validation, config entries and the device registry's websocket API.
LOOKUPS = re.compile(r"(?:hasattr|getattr)\(\s*component,\s*\"(\w+)\"")
HOME_ASSISTANT = Path(homeassistant.__file__).parent
SOURCES = ("setup.py", "config.py", "config_entries.py", "helpers/check_config.py")


def _looked_up() -> set[str]:
    """The names Home Assistant's installed release asks of an integration's package."""
    names: set[str] = set()
    for source in SOURCES:
        names |= set(LOOKUPS.findall((HOME_ASSISTANT / source).read_text("utf-8")))
    return names


def test_every_name_home_assistant_asks_for_is_handed_over() -> None:
    """Each entry point lifecycle.py defines is found on the package, as the same object, and
    the package answers no other name Home Assistant asks for."""
    looked_up = _looked_up()
    assert {"CONFIG_SCHEMA", "async_setup_entry", "async_unload_entry"} <= looked_up
    assert looked_up & set(vars(lifecycle)) == package.ENTRY_POINTS
    for name in package.ENTRY_POINTS:
        assert getattr(package, name) is getattr(lifecycle, name)
    for name in looked_up - package.ENTRY_POINTS:
        assert not hasattr(package, name), name


def test_lifecycle_is_no_name_home_assistant_imports_itself() -> None:
    """Not an entity platform, a preloaded platform nor an integration's domain."""
    name = lifecycle.__name__.rpartition(".")[2]
    assert name not in {platform.value for platform in Platform}
    assert name not in BASE_PRELOAD_PLATFORMS
    assert not (HOME_ASSISTANT / "components" / name).exists()


def test_home_assistant_imports_the_entry_points_with_the_package() -> None:
    """Imported where Home Assistant runs (its import executor), the package brings
    lifecycle.py in at once, so no look-up imports it later in the event loop; elsewhere not."""
    check = (
        "import sys{}; import custom_components.microstar_dlms; "
        "print('custom_components.microstar_dlms.lifecycle' in sys.modules)"
    )
    answers = [
        subprocess.run(
            [sys.executable, "-c", check.format(first)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for first in ("; import homeassistant.core", "")
    ]
    assert answers == ["True", "False"]
