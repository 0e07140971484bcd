"""A throwaway redis-server (Debian's) on a free loopback port, without persistence.

with RedisServer.start() as server:
    client = redis.Redis.from_url(server.url)
"""

from __future__ import annotations

import secrets
import shutil

import redis as redis_client

from tests.services.procs import Service, ServiceError, free_port, wait_for


class RedisServer(Service):
    label = "redis"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.port = free_port()
        # Off loopback, Redis' protected mode refuses clients without a password: give it one, as a real
        # deployment has (the e2e tier's real node binds on the node IP, where pods connect).
        self.password = secrets.token_hex(16) if host != "127.0.0.1" else None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def _launch(self, timeout: float) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found on PATH: run scripts/install-system-deps.sh")
        settings = {
            "port": self.port,
            "bind": self.host,
            "save": "",  # no RDB snapshots
            "appendonly": "no",  # no AOF
            "dir": self.workdir,
            "daemonize": "no",  # stay in our process group
        }
        if self.password:
            settings["requirepass"] = self.password
        options = [arg for key, value in settings.items() for arg in (f"--{key}", str(value))]
        process = self._spawn([binary, *options])
        wait_for(self._ping, what=f"redis-server on port {self.port}", timeout=timeout, process=process)

    def _ping(self) -> bool:
        client = redis_client.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis_client.RedisError:
            return False
        finally:
            client.close()
