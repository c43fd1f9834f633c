# homerun-bridge: the v1 -> v2 reverse proxy as a container image.
#
#   docker build -t homerun-bridge:0.1.0 .
#
# Configure by environment (every setting is HOMERUN_BRIDGE_<NAME>) ...
#
#   docker run --rm -p 8080:8080 --stop-timeout 15 \
#     -e HOMERUN_BRIDGE_KEYS='[{"label": "careers-site", "v1_key_sha256": "<hash-key output>",
#                              "v2_key_env": "CAREERS_SITE_V2_KEY"}]' \
#     -e CAREERS_SITE_V2_KEY \
#     homerun-bridge:0.1.0
#
# ... or by a mounted TOML file (environment variables still win over it):
#
#   docker run --rm -p 8080:8080 --stop-timeout 15 \
#     -v ./bridge.toml:/etc/homerun-bridge/bridge.toml:ro \
#     -e HOMERUN_BRIDGE_CONFIG=/etc/homerun-bridge/bridge.toml \
#     -e CAREERS_SITE_V2_KEY \
#     homerun-bridge:0.1.0
#
# deploy/bridge.example.toml is a commented example; check a configuration without
# serving with `docker run ... homerun-bridge:0.1.0 check-config`, and digest a v1 key
# with `docker run --rm -it homerun-bridge:0.1.0 hash-key`.
#
# Keep the listening port in HOMERUN_BRIDGE_PORT (not in the TOML file): the
# HEALTHCHECK reads it from there. On SIGTERM the bridge stops accepting, gives
# in-flight requests shutdown_grace_seconds (10 s), answers any still running a 503
# and exits within that grace plus 1 s: 11 s by default. Give `docker stop` more than
# that (--stop-timeout 15, or stop_grace_period: 15s in Compose; grace + 5 s if you
# change the grace); Docker's default of 10 s would SIGKILL it mid-drain.
# On Kubernetes (deploy/kubernetes/) terminationGracePeriodSeconds plays that part,
# plus any preStop sleep.

# ---------------------------------------------------------------------------------
# builder: a wheel of the project, installed with its dependencies into /opt/venv.
FROM python:3.11-slim AS builder

# pip itself is pinned; bump deliberately.
ARG PIP_VERSION=24.3.1

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install "pip==${PIP_VERSION}"

WORKDIR /src
# Only what the wheel is made of: the metadata, the readme it embeds, the packages.
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY mappings ./mappings
COPY sandbox ./sandbox

RUN /opt/venv/bin/python -m pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/python -m pip install /wheels/homerun_bridge-*.whl \
    && /opt/venv/bin/homerun-bridge --help > /dev/null

# ---------------------------------------------------------------------------------
# runtime: the slim interpreter and the venv, nothing else (no compiler, no sources).
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="homerun-bridge" \
      org.opencontainers.image.description="Drop-in Homerun API v1 endpoint that translates to API v2" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT"

# A fixed, unprivileged uid/gid, so volume and secret permissions can be planned.
RUN groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid bridge --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin bridge

COPY --from=builder /opt/venv /opt/venv

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOMERUN_BRIDGE_HOST=0.0.0.0 \
    HOMERUN_BRIDGE_PORT=8080 \
    HOMERUN_BRIDGE_LOG_FORMAT=json

USER 10001:10001
WORKDIR /tmp

EXPOSE 8080

# No curl in the slim image: Python's urllib. urlopen raises on a refused connection,
# a timeout or any non-2xx status, and the uncaught exception exits 1 (unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ.get('HOMERUN_BRIDGE_PORT', '8080') + '/healthz', timeout=4)"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["homerun-bridge"]
CMD ["serve"]
