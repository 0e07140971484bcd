# syntax=docker/dockerfile:1
# The app image: one image for the API/UI (`supertest api`), the operator (`python -m supertest_operator`) and
# the migration hook (`supertest migrate`). Build from the repository root:
#   docker build -t supertest:dev .
# Runs as uid 10001 with a read-only root filesystem (the chart mounts an emptyDir on /tmp).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- Build the distribution into a venv; pip, wheels and caches stay in this stage ------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY supertest ./supertest
COPY api ./api
COPY operator ./operator
COPY runner-image/supertest_runner ./runner-image/supertest_runner
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install /src \
 && /opt/venv/bin/python -c "import supertest_api.app, supertest_operator.main"

# --- Runtime -----------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 supertest \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin supertest
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SUPERTEST_HOME=/tmp/supertest \
    SUPERTEST_HOST=0.0.0.0 \
    SUPERTEST_PORT=8000 \
    LOG_FORMAT=json
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
CMD ["supertest", "api"]
