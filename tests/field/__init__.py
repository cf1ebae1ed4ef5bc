"""Field reports as tests: meters replayed from diagnostics files."""
