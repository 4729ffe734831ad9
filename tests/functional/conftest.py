"""Fixtures of the functional tests: a throwaway PostgreSQL server for the ledger's PostgreSQL backend."""

from __future__ import annotations

import os

import pytest

import pg_server as pg_support

# The longest modules first. scripts/test.sh runs the functional modules two side by side (--dist loadfile --no-loadscope-reorder), and
# a worker takes modules in collection order: the PostgreSQL race (8 x 10,000 appends, about 7 minutes) collected in
# the middle of the list kept one worker busy alone for minutes at the end (the step took 615 s for about 960 s of work).
LONGEST_FIRST = ("test_ledger_pg_concurrency.py", "test_controller_load_awx_api.py", "test_notify_controller_load.py")


def pytest_collection_modifyitems(items):
    """Move the longest modules to the front; the rest keep their order (a stable sort)."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL 15 cluster for the session (tests/support/pg_server.py), its libpq environment set; removed after."""
    why = pg_support.available()
    if why:
        pytest.skip(why)
    server = pg_support.PgServer.start()
    saved = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
