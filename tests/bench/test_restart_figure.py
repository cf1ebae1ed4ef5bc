"""``restart_extra_round_trips`` compares requests, not counts: a restart's poll that reads
every class in another order costs nothing extra; one that asks for anything more does."""

from benchmarks.guide import extra_exchanges
from benchmarks.wire import Exchange
from custom_components.microstar_dlms.dlms import AttributeRef, Obis

POWER = AttributeRef(3, Obis.parse("1-1:1.7.0"), 2)
ENERGY = AttributeRef(3, Obis.parse("1-1:1.8.0"), 2)
SERIAL = AttributeRef(1, Obis.parse("0-0:96.1.0"), 2)
SCALER = AttributeRef(3, Obis.parse("1-1:1.8.0"), 3)


def _session(*gets: tuple[AttributeRef, ...]) -> list[Exchange]:
    middle = [Exchange("GET-list" if len(refs) > 1 else "GET", refs, 16, 12) for refs in gets]
    return [
        Exchange("SNRM", (), 9, 9),
        Exchange("AARQ", (), 61, 59),
        *middle,
        Exchange("RLRQ", (), 8, 8),
        Exchange("DISC", (), 9, 9),
    ]


def test_the_same_reads_in_another_order_or_grouping_cost_nothing_extra() -> None:
    steady = _session((POWER,), (ENERGY,), (POWER,))  # live first, and again at the end
    assert extra_exchanges(_session((ENERGY, POWER)), steady) == 0
    assert extra_exchanges(_session((ENERGY,), (POWER,)), steady) == 0


def test_an_identity_check_or_a_scaler_read_again_is_extra() -> None:
    steady = _session((POWER,), (ENERGY,))
    assert extra_exchanges(_session((SERIAL,), (POWER,), (ENERGY,)), steady) == 1
    assert extra_exchanges(_session((POWER,), (ENERGY, SCALER)), steady) == 1
    assert extra_exchanges([Exchange("DISC", (), 9, 9), *_session((POWER,))], steady) == 1
