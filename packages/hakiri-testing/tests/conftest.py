"""Fixtures of the hakiri-testing tests (imported explicitly: no pytest11 plugin)."""

from hakiri.testing.fixtures import demo_api  # noqa: F401  (a fixture, used by name)
