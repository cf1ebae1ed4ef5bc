"""Home Assistant's fixtures for the field reports (those of tests/integration), and learning
that finishes in the poll after setup (a field file shows a learned meter's poll)."""

from collections.abc import Iterator
from unittest.mock import patch

import pytest

from custom_components.microstar_dlms.discovery import DISCOVERY_BUDGET
from tests.integration.conftest import (
    auto_enable_custom_integrations,
    check_translations,
    simulator,
)

__all__ = ["auto_enable_custom_integrations", "check_translations", "simulator"]


@pytest.fixture(autouse=True)
def whole_discovery_right_after_setup() -> Iterator[None]:
    """Objects of disabled entities learned in the same poll as the others: the number of
    polls a file shows does not follow the machine's speed."""
    module = "custom_components.microstar_dlms.coordinator"
    with patch(f"{module}.DISABLED_DISCOVERY_BUDGET", DISCOVERY_BUDGET):
        yield
