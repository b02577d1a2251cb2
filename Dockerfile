# syntax=docker/dockerfile:1
# The intentloop operator image: `docker build -t ghcr.io/intentloop/intentloop:0.1.0 .`
#
# Two stages. The builder turns the project and its pinned dependencies into wheels; the
# runtime installs only those wheels (no compiler, no pip cache, no lab system packages such
# as netconfd or sshd: the lab is a development tool, the image runs the operator).
# The runtime runs as uid/gid 65532 and writes nothing outside /tmp, so it works with
# `readOnlyRootFilesystem: true` and an emptyDir on /tmp (see manifests/deployment.yaml).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY intents/ intents/
COPY adapters/ adapters/
COPY operator/ operator/
COPY lab/ lab/
COPY api/ api/
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="intentloop" \
      org.opencontainers.image.description="Intent-based, closed-loop network controller (Kubernetes operator)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Bytecode is compiled at install time; at run time nothing is written next to the code.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# A named user for uid 65532: kopf names its peering identity after the user
# (getpass.getuser() fails for a uid without a passwd entry).
RUN groupadd --system --gid 65532 intentloop \
 && useradd --system --uid 65532 --gid 65532 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin intentloop
# The wheels are mounted for this one step, not copied: they never become an image layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels intentloop
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8443
ENTRYPOINT ["intentloop"]
CMD ["operator"]
