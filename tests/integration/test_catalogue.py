"""The catalogue table: the guide's rows as the vendor wrote them; a malformed row never loads."""

import csv
import hashlib
import io
from pathlib import Path

import pytest

from custom_components.microstar_dlms.catalogue import (
    CATALOGUE,
    COMPUTED,
    KINDS,
    PROBED,
    TABLE,
    channel_marker,
    load,
)
from custom_components.microstar_dlms.freshness import Freshness

VENDOR_COLUMNS = ("obis", "class", "channel", "description")
# SHA-256 of the vendor's object table, microstar-guide-objects.csv (446 objects, then the clock
# row), with its lines ended by LF: `tr -d '\r' < microstar-guide-objects.csv | sha256sum`.
VENDOR_TABLE_SHA256 = "c13145d22f76b6a9ad600fd330aa0d3785c39c07987bc021263e9cddaae0716e"


def _rows(path: Path = TABLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as table:
        return list(csv.DictReader(table))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as table:
        writer = csv.DictWriter(table, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_guide_rows_are_the_vendors_table() -> None:
    """The rows of source guide, their four vendor columns in their order, are the vendor's
    table as received: no row added, dropped, moved or reworded."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(VENDOR_COLUMNS)
    writer.writerows(
        [row[column] for column in VENDOR_COLUMNS] for row in _rows() if row["source"] == "guide"
    )
    assert hashlib.sha256(text.getvalue().encode()).hexdigest() == VENDOR_TABLE_SHA256


def test_every_row_is_from_the_guide_outside_it_or_computed_and_every_kind_is_used() -> None:
    """Sources are guide, other or computed; no kind of KINDS is left without a row."""
    rows = _rows()
    assert {row["source"] for row in rows} == {"guide", "other", "computed"}
    assert {row["kind"] for row in rows if row["sensor"]} == set(KINDS)


def test_the_table_loads_as_the_catalogue() -> None:
    """What the integration holds is the table read: 453 rows, the history row ten objects."""
    assert len(_rows()) == 453
    assert load() == CATALOGUE
    assert len(CATALOGUE) == 462


def _by_name(name: str) -> set[Freshness | None]:
    """The classes of the objects presented as sensor ``name`` on any channel."""
    return {
        known.freshness
        for known in CATALOGUE.values()
        for p in known.presented
        if p.name.removeprefix("load_source_").removeprefix("standby_source_") == name
    }


@pytest.mark.parametrize(
    ("names", "freshness"),
    [
        (
            ("power_import", "power_export", "net_power", "power_import_phase", "power_total"),
            Freshness.LIVE,
        ),
        (
            ("energy_import", "energy_import_rate", "voltage_phase", "current_phase", "frequency"),
            Freshness.STANDARD,
        ),
        (("power_factor", "active_tariff", "meter_cover", "billing_period"), Freshness.STANDARD),
        (("clock_drift", "ct_primary", "vt_secondary", "meter_constant_active"), Freshness.SLOW),
        (("billing_period_counter", "configuration_changes", "max_demand_import"), Freshness.SLOW),
    ],
)
def test_each_reading_has_the_class_the_issue_gives_it(
    names: tuple[str, ...], freshness: Freshness
) -> None:
    """Live: active power; standard: energies, voltage, current, frequency, power factor, the
    tariff, the events' time stamps; slow: clock, ratios, constants, counters, max demand."""
    for name in names:
        assert _by_name(name) == {freshness}, name


def test_every_presented_object_has_a_class_and_no_other_has_one() -> None:
    """A presented object is read at its class's pace; the others are never read for an entity."""
    for known in CATALOGUE.values():
        assert (known.freshness is not None) == bool(known.presented), known.key


def test_net_power_is_computed_per_channel_and_never_probed() -> None:
    """Import minus export power of each channel, computed: no object of the meter to ask."""
    assert {key: known.requires for key, known in COMPUTED.items()} == {
        f"1.{c}.16.7.0.255": (f"1.{c}.1.7.0.255", f"1.{c}.2.7.0.255") for c in (1, 2, 3)
    }
    assert not set(COMPUTED) & set(PROBED)


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("kind", "wattage", "wattage"),
        ("cumulative", "true", "neither yes nor empty"),
        ("enabled", "when the tariff is known", "not an OBIS code"),
        ("state_class", "sometimes", "sometimes"),
        ("sensor", "", "neither presented nor a reason why not"),
        ("event_type", "", "an event without its event_type"),
        ("obis", "1-0:0.1.0", "1.0.0.1.0.255 is catalogued twice"),
        ("freshness", "hourly", "hourly"),
        ("source", "computed", "a computed object is a sensor of two objects"),
    ],
)
def test_a_malformed_row_is_an_error_naming_its_line(
    tmp_path: Path, column: str, value: str, error: str
) -> None:
    """A cell the loader cannot read stops the load with the row's line, not a wrong entity."""
    rows = _rows()[:4]  # serial number, billing period counter and end, meter constant
    rows[2][column] = value  # the billing period end: a timestamp sensor and an event
    if column == "sensor":
        rows[2]["event"] = ""
    with pytest.raises(ValueError, match=r"catalogue\.csv line 4") as raised:
        load(_write(tmp_path / "catalogue.csv", rows))
    assert error in str(raised.value)


def test_a_channel_waits_for_its_marker() -> None:
    """Every channel 2/3 object but the channel's energy total waits for that total (devices.py
    judges a channel device stale by the same marker)."""
    for key, known in CATALOGUE.items():
        marker = channel_marker(known.channel)
        if marker is None or key == marker or known.computed:  # its inputs wait for it
            continue
        assert marker in known.requires, key
