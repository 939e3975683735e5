"""Test running: the test environment, selection, per-test dependencies, result cache."""
