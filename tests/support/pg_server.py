# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL 15 cluster for the tests (Debian's postgresql-15, installed by `make setup`).

initdb and pg_ctl run as the ``postgres`` user (the tests run as root) in a temporary directory, listening on a unix
socket in that directory and on 127.0.0.1 at a free port; stop() stops it and removes the directory. No mock:
the ledger talks to a real server. Use ``PgServer.start()`` directly or the ``pg_server`` fixture of a conftest."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("GC_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"


def available():
    """Why no cluster can be started here (None when one can)."""
    if not os.path.isfile(os.path.join(PG_BIN, "initdb")):
        return "PostgreSQL 15 is not installed (%s/initdb missing): run `make setup`" % PG_BIN
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return "there is no %s user (installed with postgresql-15)" % PG_USER
    if os.geteuid() != 0:
        return "starting a cluster as the postgres user needs root"
    return None


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv, **kwargs):
    """Run argv as the postgres user (runuser, no login shell), raising with its output when it fails."""
    done = subprocess.run(["runuser", "-u", PG_USER, "--"] + argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (argv[0], done.returncode, done.stdout[-2000:], done.stderr[-2000:]))
    return done


class PgServer:
    """One cluster: ``url(dbname)`` for a ledger, ``env`` for libpq (PGHOST = the socket directory, PGUSER postgres)."""

    def __init__(self, root, port):
        self.root = root
        self.data = os.path.join(root, "data")
        self.socket_dir = os.path.join(root, "run")
        self.port = port
        self.log = os.path.join(root, "server.log")
        self._dbs = 0

    @classmethod
    def start(cls):
        """initdb a new cluster in a temporary directory and start it (fsync off: a throwaway cluster)."""
        root = tempfile.mkdtemp(prefix="gc-pg-")
        os.chmod(root, 0o755)
        server = cls(root, _free_port())
        os.mkdir(server.socket_dir)
        pw = pwd.getpwnam(PG_USER)
        for path in (root, server.socket_dir):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        try:
            _as_postgres([os.path.join(PG_BIN, "initdb"), "-D", server.data, "-U", PG_USER, "-A", "trust", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync"], cwd=root)
            server.pg_ctl_start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return server

    def pg_ctl_start(self):
        """(Re)start the server and wait until it accepts connections."""
        options = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off " \
                  "-c max_connections=60 -c shared_buffers=64MB" % (self.port, self.socket_dir)
        _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start"],
                     cwd=self.root)

    def pg_ctl_stop(self, mode="fast"):
        """Stop the server (fast: open sessions are disconnected, their transactions rolled back)."""
        _as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"], cwd=self.root)

    def restart(self, mode="fast"):
        self.pg_ctl_stop(mode)
        self.pg_ctl_start()

    @property
    def env(self):
        """libpq environment for this cluster (no password: trust authentication on a throwaway cluster)."""
        return {"PGHOST": self.socket_dir, "PGPORT": str(self.port), "PGUSER": PG_USER}

    def psql(self, sql, dbname="postgres"):
        """Run SQL through psql as the postgres user; returns its stdout (tuples only, unaligned)."""
        return _as_postgres([os.path.join(PG_BIN, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                             "-p", str(self.port), "-d", dbname, "-c", sql], cwd=self.root).stdout

    def create_database(self, name=None):
        """A new empty database; returns its name."""
        self._dbs += 1
        name = name or "ledger_%d_%d" % (os.getpid(), self._dbs)
        self.psql('CREATE DATABASE "%s"' % name)
        return name

    def fresh_url(self, tcp=True):
        """The URL of a new empty database (created through psycopg: quicker than psql)."""
        import psycopg  # pylint: disable=import-outside-toplevel
        self._dbs += 1
        name = "ledger_%d_%d" % (os.getpid(), self._dbs)
        with psycopg.connect(host=self.socket_dir, port=self.port, user=PG_USER, dbname="postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "%s"' % name)
        return self.url(name, tcp=tcp)

    def url(self, dbname, tcp=True):
        """The ledger URL of a database (no credentials: PGUSER/PGPASSWORD come from the environment)."""
        if tcp:
            return "postgresql://127.0.0.1:%d/%s" % (self.port, dbname)
        return "postgresql:///%s?host=%s&port=%d" % (dbname, self.socket_dir, self.port)

    def stop(self):
        """Stop the server (immediately) and remove the cluster's directory."""
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self.pg_ctl_stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_for(predicate, timeout_s=30.0, step_s=0.05):
    """Poll ``predicate`` until it is true (returns True) or the timeout passes (returns False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return False
