"""Fixtures of the functional tests: a throwaway PostgreSQL server for the ledger's PostgreSQL backend."""

from __future__ import annotations

import os

import pytest

import pg_server as pg_support


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
