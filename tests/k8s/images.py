"""The images built from our Dockerfiles (`scripts/build-images.sh`), as the e2e tier's real node uses them.

The script builds with buildah (cached by a hash of each image's inputs) and prints, as KEY=VALUE lines on stdout,
the tag of each image and the archive containerd imports it from (for this work tree; its cache's `current.env` is
whichever tree built last). `ensure_images()` runs it (a no-op when cached) and reads those lines; a failed build
fails the caller loudly, with the tail of its output.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-images.sh"


class ImageBuildError(RuntimeError):
    """build-images.sh failed; the message holds the tail of its output."""


@dataclass(frozen=True)
class BuiltImages:
    app: str  # API/UI, operator and migrations (the root Dockerfile)
    runner: str  # the per-run pod (runner-image/Dockerfile)
    pause: str  # the pod sandbox (containerd's sandbox_image)
    archives: dict[str, Path]  # image name -> archive for `ctr images import`


def parse_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def ensure_images(timeout: float = 3000) -> BuiltImages:
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise ImageBuildError(f"scripts/build-images.sh exited with {proc.returncode}:\n{tail}")
    env = parse_env(proc.stdout)
    names = {"app": env["SUPERTEST_IMAGE"], "runner": env["RUNNER_IMAGE"], "pause": env["PAUSE_IMAGE"]}
    archives = {
        names["app"]: Path(env["SUPERTEST_IMAGE_ARCHIVE"]),
        names["runner"]: Path(env["RUNNER_IMAGE_ARCHIVE"]),
        names["pause"]: Path(env["PAUSE_IMAGE_ARCHIVE"]),
    }
    return BuiltImages(app=names["app"], runner=names["runner"], pause=names["pause"], archives=archives)
