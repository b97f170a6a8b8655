# The venue planner as a container image: the shipped data (seeds/), the exact locked
# versions (requirements.lock), and the caches built at image build time, so that a
# container answers its first request seconds after it starts.
#
#   docker build -t venue-planner .
#   docker run -p 8000:8000 -v planner-data:/data \
#       -e VENUE_PLANNER_ALLOWED_HOSTS='["planner.example.org","localhost"]' venue-planner
#
# Keys: docker exec -it <container> venue-planner keys add alice --role editor
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VENUE_PLANNER_CACHE_DIR=/app/cache \
    VENUE_PLANNER_DATA_DIR=/data \
    VENUE_PLANNER_HOST=0.0.0.0 \
    VENUE_PLANNER_PORT=8000

WORKDIR /app

# Dependencies first (a layer that changes only with the lock file and the compiled kernels,
# geo/_kernels.pyx, which the install builds with a C compiler that is removed after).
COPY pyproject.toml setup.py requirements.lock README.md ./
COPY api/__init__.py api/__init__.py
COPY geo/__init__.py geo/_kernels.pyx geo/
COPY layers/__init__.py layers/__init__.py
RUN apt-get update -q && apt-get install -y -q --no-install-recommends gcc libc6-dev \
    && PYTHONWARNINGS="ignore:Editable installation" pip install --quiet -c requirements.lock -e . \
    && apt-get purge -y -q --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/*

# The code and the shipped data.
COPY api api
COPY geo geo
COPY layers layers
COPY seeds seeds

# Build every cache now (road graphs, routing engines, grids, site bands: about a minute),
# then run as an unprivileged user who can read them and write only /data.
RUN venue-planner warm \
    && useradd --system --home-dir /data --shell /usr/sbin/nologin planner \
    && mkdir -p /data && chown planner /data
USER planner
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"

CMD ["venue-planner", "serve"]
