"""Fixtures of the fault suite (tests/conftest.py's `isolated` HOME and TRACES_HOME apply too)."""

import os

import pytest
from faultkit import kill, our_processes


@pytest.fixture(autouse=True)
def reap_workers():
    """Detached workers a test's hooks started must not outlive it (they retry for 15 minutes)."""
    home = os.environ["TRACES_HOME"]
    yield
    kill(our_processes(home))
