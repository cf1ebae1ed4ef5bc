"""Benchmarks of the Microstar DLMS client: poll time against the protocol floor and a
reference client, many meters in Home Assistant, decoder throughput (issue 7). Not shipped.

Run with ``scripts/bench [--out FILE.json] [--quick]``.
"""
