"""Fixtures for the protocol-core tests: the simulator (microstar_sim) for interop tests."""

from microstar_sim.pytest_plugin import simulator

__all__ = ["simulator"]
