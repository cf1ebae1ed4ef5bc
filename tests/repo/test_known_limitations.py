"""Each of the README's known limitations is still true: a check per limitation.

A limitation the code outgrows fails its check (the README must then drop or reword it), and a
new limitation fails until it gets a check here.
"""

from collections.abc import Callable
import json
from pathlib import Path

from homeassistant.config_entries import ConfigFlow
import pytest

from custom_components.microstar_dlms import config_flow
from custom_components.microstar_dlms.catalogue import CATALOGUE
from custom_components.microstar_dlms.dlms import apdu

REPO = Path(__file__).parents[2]
INTEGRATION = REPO / "custom_components" / "microstar_dlms"
PROFILE_GENERIC = 7  # COSEM interface class of load profiles and event logs


def _limitations() -> list[str]:
    """The bullets of the README's Known limitations, each on one line."""
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("\n## Known limitations\n", 1)[1].split("\n## ", 1)[0]
    bullets = [" ".join(item.split()) for item in section.split("\n- ")[1:]]
    assert bullets
    return bullets


def _reads_no_profiles_writes_nothing() -> None:
    """No profile generic object is known, and the protocol core builds no SET request."""
    assert all(known.class_id != PROFILE_GENERIC for known in CATALOGUE.values())
    assert not [name for name in dir(apdu) if name.startswith(("SetRequest", "ActionRequest"))]


def _not_discoverable() -> None:
    """The manifest declares no discovery method and the flow has no discovery step."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text("utf-8"))
    methods = {"bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf"}
    assert not methods & set(manifest)
    ours = config_flow.MicrostarConfigFlow
    steps = [f"async_step_{method}" for method in methods]
    assert [getattr(ours, step) for step in steps] == [getattr(ConfigFlow, step) for step in steps]


def _shown_by(test_file: str, test_name: str) -> Callable[[], None]:
    """A limitation of behaviour: the test that shows it is still there."""

    def check() -> None:
        assert f"def {test_name}(" in (REPO / test_file).read_text("utf-8"), test_name

    return check


# Each limitation by the start of its bullet.
CHECKS: dict[str, Callable[[], None]] = {
    "Load profiles and the meter's event logs": _reads_no_profiles_writes_nothing,
    "No discovery": _not_discoverable,
    "A meter that reports a unit that does not fit a sensor": _shown_by(
        "tests/integration/test_sensor.py", "test_unit_the_description_does_not_accept"
    ),
    "Through an RFC 2217 gateway": _shown_by(
        "tests/gateway/test_ser2net.py", "test_second_rfc2217_client_gets_the_busy_text_late"
    ),
}


@pytest.mark.parametrize("bullet", _limitations(), ids=lambda bullet: bullet[:40])
def test_limitation_has_a_check(bullet: str) -> None:
    """Every limitation the README gives has a check below."""
    assert [start for start in CHECKS if bullet.startswith(start)], bullet


@pytest.mark.parametrize("start", sorted(CHECKS))
def test_limitation_still_holds(start: str) -> None:
    """The README still gives the limitation, and it is still true."""
    assert [bullet for bullet in _limitations() if bullet.startswith(start)], start
    CHECKS[start]()
