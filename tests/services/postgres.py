"""A throwaway Postgres (Debian's binaries) in a temp data dir on a free loopback port.

    with PostgresServer.start() as pg:
        engine = sqlalchemy.create_engine(pg.url)
        other_url = pg.create_database()   # a fresh, empty database

Durability is off (fsync, synchronous_commit, full_page_writes): the data dir dies with the server.
Postgres refuses to run as root, so under root initdb and postgres run as the `postgres` OS user.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.services.procs import Service, ServiceError, free_port, run_checked, wait_for

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


def find_bindir() -> Path:
    """SUPERTEST_PG_BINDIR, else the newest Debian /usr/lib/postgresql/<ver>/bin, else `postgres` on PATH."""
    override = os.environ.get("SUPERTEST_PG_BINDIR")
    if override:
        return Path(override)
    versions = [p for p in DEBIAN_PG_ROOT.glob("*/bin") if (p / "postgres").exists()]
    if versions:
        return max(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0])
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise ServiceError(
        f"no Postgres server binaries under {DEBIAN_PG_ROOT}/*/bin or on PATH: run scripts/install-system-deps.sh"
    )


class PostgresServer(Service):
    label = "postgres"
    user = "supertest"
    password = "supertest"  # password auth over TCP is what the product uses, so exercise it
    database = "supertest"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.port = free_port()
        self.os_user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL for a database on this server."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq conninfo for psycopg directly."""
        return (
            f"host={self.host} port={self.port} user={self.user} password={self.password} "
            f"dbname={database} connect_timeout=2"
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (random name by default) and return its SQLAlchemy URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self._admin(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(self.user)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        # FORCE: a test that leaked a connection must not make teardown hang or fail.
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(statement)

    def _boot(self, timeout: float) -> None:
        self._initdb(find_bindir(), self.workdir / "data")
        self._launch(timeout)
        self.create_database(self.database)

    def _launch(self, timeout: float) -> None:
        bindir = find_bindir()
        datadir = self.workdir / "data"
        settings = {
            "port": self.port,
            "listen_addresses": self.host,
            "unix_socket_directories": self.workdir,  # private dir: no clash over /run/postgresql
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 200,  # room for several pooled engines in one test session
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        process = self._spawn(
            [str(bindir / "postgres"), "-D", str(datadir), *options],
            user=self.os_user,
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for clients to disconnect
        )
        wait_for(self._accepts_connections, what=f"postgres on port {self.port}", timeout=timeout, process=process)

    def _initdb(self, bindir: Path, datadir: Path) -> None:
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.os_user is not None:
            for path in (self.workdir, pwfile):
                shutil.chown(path, self.os_user, self.os_user)
        run_checked(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            what="postgres initdb",
            user=self.os_user,
        )
        pwfile.unlink()
        if self.host != "127.0.0.1":
            # initdb admits loopback clients only; on the node IP, clients are pods (the bridge subnet) and the host.
            with (datadir / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 scram-sha-256\n")

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False
