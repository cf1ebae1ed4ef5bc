"""Fixtures for the simulator's own tests."""

from microstar_sim.pytest_plugin import simulator

__all__ = ["simulator"]
