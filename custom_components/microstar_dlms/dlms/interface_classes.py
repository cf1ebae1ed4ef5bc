"""COSEM interface classes the client reads: which attribute holds an object's value, its
scaler_unit (and the attributes that scaler applies to) and its capture time.

The attribute numbers are the COSEM model's (IEC 62056-6-2, the Blue Book): a demand register
(class 5) keeps its scaler_unit in attribute 4, not in 3 as a register does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .apdu import AttributeRef
from .obis import Obis

CLASS_DATA: Final = 1
CLASS_REGISTER: Final = 3
CLASS_EXTENDED_REGISTER: Final = 4
CLASS_DEMAND_REGISTER: Final = 5
CLASS_CLOCK: Final = 8
CLASS_ASSOCIATION_LN: Final = 15


@dataclass(frozen=True, slots=True)
class InterfaceClass:
    """Where an interface class keeps an object's value, scaler_unit and capture time."""

    value: int
    scaler_unit: int | None = None
    scaled: frozenset[int] = frozenset()  # the attributes the scaler_unit applies to
    capture_time: int | None = None


INTERFACE_CLASSES: Final[dict[int, InterfaceClass]] = {
    CLASS_DATA: InterfaceClass(value=2),
    CLASS_REGISTER: InterfaceClass(value=2, scaler_unit=3, scaled=frozenset({2})),
    CLASS_EXTENDED_REGISTER: InterfaceClass(
        value=2, scaler_unit=3, scaled=frozenset({2}), capture_time=5
    ),
    # current_average_value 2 and last_average_value 3, both scaled by attribute 4. No capture
    # time for the value read: capture_time (6) is when last_average_value (3) was computed, not
    # the current average (2) shown (IEC 62056-6-2, demand register).
    CLASS_DEMAND_REGISTER: InterfaceClass(value=2, scaler_unit=4, scaled=frozenset({2, 3})),
    CLASS_CLOCK: InterfaceClass(value=2),
    CLASS_ASSOCIATION_LN: InterfaceClass(value=2),  # the object list
}


@dataclass(frozen=True, slots=True)
class MeterObject:
    """One object of a meter: its OBIS code in the dotted form (``1.1.32.7.0.255``), its class."""

    key: str
    class_id: int

    @property
    def supported(self) -> bool:
        """Whether the client knows where this interface class keeps its value."""
        return self.class_id in INTERFACE_CLASSES

    def value_ref(self) -> AttributeRef:
        """The attribute holding the value."""
        return self._ref(INTERFACE_CLASSES[self.class_id].value)

    def capture_time_ref(self) -> AttributeRef | None:
        """The attribute holding the time the value was captured, if the class has one."""
        known = INTERFACE_CLASSES.get(self.class_id)
        attribute = None if known is None else known.capture_time
        return None if attribute is None else self._ref(attribute)

    def scaler_unit_ref(self) -> AttributeRef | None:
        """The attribute holding scaler and unit, if the class has one."""
        attribute = INTERFACE_CLASSES[self.class_id].scaler_unit
        return None if attribute is None else self._ref(attribute)

    def probe_ref(self) -> AttributeRef:
        """What discovery asks to learn the object: its scaler_unit, else its value."""
        return self.scaler_unit_ref() or self.value_ref()

    def is_scaled(self, attribute: int) -> bool:
        """Whether the scaler_unit applies to ``attribute`` (False for an unknown class)."""
        known = INTERFACE_CLASSES.get(self.class_id)
        return known is not None and attribute in known.scaled

    def _ref(self, attribute: int) -> AttributeRef:
        return AttributeRef(self.class_id, Obis.parse(self.key), attribute)
