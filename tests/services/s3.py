"""A throwaway S3-compatible server (versitygw, built from source by build-s3.sh) on a free loopback port.

    with S3Server.start() as s3:
        s3.create_bucket("reports")
        s3.client().put_object(Bucket="reports", Key="a.txt", Body=b"hi")

versitygw's posix backend keeps object metadata (content type, ETag, user metadata) in user xattrs.
Filesystems without them (some tmpfs/overlay setups) get its sidecar directory instead; the choice is
probed per start, or forced with SUPERTEST_S3_METADATA=xattr|sidecar.
"""

from __future__ import annotations

import errno
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from tests.services.procs import LOG_TAIL_LINES, Service, ServiceError, free_port, wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUILD_SCRIPT = Path(__file__).with_name("build-s3.sh")
BUILD_TIMEOUT = 30 * 60  # a cold build is a few minutes; the proxy download can be slow


def ensure_binary() -> Path:
    """The versitygw binary: SUPERTEST_S3_BINARY, else build-s3.sh's cached build (building it if needed)."""
    override = os.environ.get("SUPERTEST_S3_BINARY")
    if override:
        return Path(override)
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"S3 server build ({BUILD_SCRIPT}) did not complete: {exc}") from exc
    if done.returncode != 0:
        # The script's last stderr line names the failed step.
        log = "\n".join(done.stderr.splitlines()[-LOG_TAIL_LINES:])
        raise ServiceError(f"S3 server build failed: {BUILD_SCRIPT} exited {done.returncode}:\n{log}")
    return Path(done.stdout.strip().splitlines()[-1])


def supports_user_xattrs(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.supertest.probe", b"1")
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
            return False
        raise
    finally:
        probe.unlink()


class S3Server(Service):
    label = "s3"
    access_key = "supertest"
    secret_key = "supertest-secret"
    region = "us-east-1"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.port = free_port()
        self.metadata = ""  # "xattr" or "sidecar", decided at boot

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The product's settings for this server, for a subprocess's environment."""
        return {
            "S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            # Path style: bucket.127.0.0.1 does not resolve.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def _boot(self, timeout: float) -> None:
        data = self.workdir / "data"
        data.mkdir()
        self.metadata = self._metadata_mode(data)
        if self.metadata == "sidecar":
            (self.workdir / "meta").mkdir()  # must not be inside the data root
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        binary = ensure_binary()
        data = self.workdir / "data"
        posix_options = ["--sidecar", str(self.workdir / "meta")] if self.metadata == "sidecar" else []
        process = self._spawn([
            str(binary),
            "--access", self.access_key,
            "--secret", self.secret_key,
            "--region", self.region,
            "--port", f"{self.host}:{self.port}",
            "posix", *posix_options, str(data),
        ])  # fmt: skip
        wait_for(self._responds, what=f"versitygw on port {self.port}", timeout=timeout, process=process)

    @staticmethod
    def _metadata_mode(data: Path) -> str:
        forced = os.environ.get("SUPERTEST_S3_METADATA", "")
        if forced not in ("", "xattr", "sidecar"):
            raise ServiceError(f"SUPERTEST_S3_METADATA={forced!r}: expected 'xattr' or 'sidecar'")
        return forced or ("xattr" if supports_user_xattrs(data) else "sidecar")

    def _responds(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + "/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # an S3 error response (AccessDenied) means the server is up
        except OSError:
            return False
