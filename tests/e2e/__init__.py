"""End-to-end: a real Home Assistant process, the simulator process and a headless browser."""
