"""Loopback only: the sockets, ports and HTTP check that the end-to-end and install runs share."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest_socket

LOOPBACK = "127.0.0.1"


def allow_loopback_sockets() -> None:
    """Open sockets to loopback: module fixtures run before tests/conftest.py's per-test switch."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts([LOOPBACK, "::1"], allow_unix_socket=True)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.URLError, ConnectionError, TimeoutError:
        return False
