"""Where each interface class keeps an object's value, scaler_unit and capture time."""

from custom_components.microstar_dlms.dlms import AttributeRef, MeterObject, Obis

DEMAND = Obis.parse("1-1:1.4.0")


def test_a_demand_register_keeps_its_scaler_in_attribute_4() -> None:
    """Attribute 3 is the last average, scaled like the current one (2) by attribute 4."""
    demand = MeterObject(DEMAND.dotted, 5)
    assert demand.value_ref() == AttributeRef(5, DEMAND, 2)
    assert demand.scaler_unit_ref() == AttributeRef(5, DEMAND, 4)
    assert demand.capture_time_ref() is None  # attribute 6 dates the last average, not 2
    assert [demand.is_scaled(attribute) for attribute in (2, 3, 4, 6)] == [
        True,
        True,
        False,
        False,
    ]


def test_registers_data_and_unknown_classes() -> None:
    """A register's scaler is attribute 3, for its value only; data is never scaled; a class
    the client does not read (a profile, 7) is unsupported and never scaled."""
    voltage = MeterObject("1.1.32.7.0.255", 3)
    assert voltage.scaler_unit_ref() == AttributeRef(3, Obis.parse("1-1:32.7.0"), 3)
    assert voltage.is_scaled(2)
    assert not voltage.is_scaled(3)
    assert voltage.capture_time_ref() is None
    extended = MeterObject("1.1.1.6.0.255", 4)
    assert extended.capture_time_ref() == AttributeRef(4, Obis.parse("1-1:1.6.0"), 5)
    serial = MeterObject("1.0.0.0.0.255", 1)
    assert serial.supported
    assert serial.scaler_unit_ref() is None
    assert not serial.is_scaled(2)
    profile = MeterObject("1.0.99.1.0.255", 7)
    assert not profile.supported
    assert not profile.is_scaled(2)
    assert profile.capture_time_ref() is None
