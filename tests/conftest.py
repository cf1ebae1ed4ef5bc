"""Test-wide fixtures: the tests talk to the simulator over real loopback sockets, nowhere else."""

from collections.abc import Iterator

import pytest
import pytest_socket


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--slow``: nightly sizes for fuzzing and the soak (tests/reliability)."""
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="reliability suite: heavy fuzzing and the full 10 000-poll soak",
    )


@pytest.fixture(autouse=True)
def loopback_sockets_only() -> Iterator[None]:
    """Allow sockets (the HA harness blocks them), but only to loopback addresses."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)
    yield
    pytest_socket.disable_socket(allow_unix_socket=True)
