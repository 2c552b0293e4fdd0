# syntax=docker/dockerfile:1
# The logistis collector. `make image` builds it; custom base images go in
# .local/Makefile (see docs/deploy.md):
#   --build-arg BASEIMAGE=...  the image that builds the wheel and the virtualenv
#   --build-arg RUNIMAGE=...   the image that runs it
# Both must provide the same Python (3.11 or newer) at the same path, because the
# virtualenv is copied from one to the other.
ARG BASEIMAGE=python:3.11-slim-bookworm
ARG RUNIMAGE=python:3.11-slim-bookworm

FROM ${BASEIMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY logistis ./logistis
# The project as a wheel, then the wheel and its dependencies into a venv without pip.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/logistis \
 && python -m pip --python /opt/logistis/bin/python install "$(ls /wheels/*.whl)[collector]"

FROM ${RUNIMAGE}
ENV PATH=/opt/logistis/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# No installers in the image that runs: the venv has no pip, and the base image's
# own pip, setuptools and wheel go too.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && mkdir -p /data \
 && chown 65532:65532 /data
COPY --from=build /opt/logistis /opt/logistis
USER 65532:65532
VOLUME /data
EXPOSE 8443
ENTRYPOINT ["logistis-collector", "--data-dir", "/data", "--log-format", "json"]
