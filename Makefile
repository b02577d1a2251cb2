# intentloop — one target per habit. Every target does its own set-up.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PKGS := operator/intentloop_operator intents/intentloop_intents adapters/intentloop_adapters lab/intentloop_lab api/intentloop_api
export PYTHONPATH := operator:intents:adapters:lab:api

.PHONY: help setup venv system-deps controlplane gnmi-cli ocvalidate lint fmt crds crds-check docs test unit adapters-test e2e demo demo-down bench clean docker-build kind-up kind-load deploy kind-down

IMAGE ?= ghcr.io/intentloop/intentloop:0.1.0
KIND_CLUSTER ?= intentloop

help:
	@echo "make demo    - local control plane + lab + operator + example intents"
	@echo "make test    - lint, crds-check, unit, adapter and e2e tests (does its own set-up)"
	@echo "make bench   - benchmarks into benchmarks/results/"

$(BIN)/intentloop: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/intentloop

# Debian packages the lab needs: netconfd (real NETCONF server) behind a private sshd.
# The lab's routers: netconfd behind sshd; its data plane: iproute2 (ip, tc), ping and
# iperf3 (traffic between customer sites).
system-deps:
	@if ! command -v netconfd >/dev/null || ! test -x /usr/sbin/sshd || ! command -v ip >/dev/null \
	    || ! command -v ping >/dev/null || ! command -v iperf3 >/dev/null || ! command -v yanglint >/dev/null \
	    || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "[setup] installing netconfd, openssh-server, iproute2, iputils-ping, iperf3, libyang2-tools, chromium, chromium-driver from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends netconfd openssh-server iproute2 iputils-ping iperf3 libyang2-tools chromium chromium-driver >/dev/null; \
	fi

# The real kube-apiserver, etcd, kube-controller-manager and kubectl, built once and cached.
controlplane:
	@bash hack/build-k8s.sh >/dev/null

# gnmi_cli, the reference gNMI client (openconfig/gnmi), which the adapter tests drive.
gnmi-cli:
	@bash hack/build-gnmi-cli.sh >/dev/null

# The lab's OpenConfig validator (ygot's generated schema), built once and cached.
ocvalidate:
	@bash hack/build-ocvalidate.sh >/dev/null

setup: venv system-deps controlplane gnmi-cli ocvalidate

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PKGS)
	$(BIN)/lint-imports

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

crds: venv
	$(BIN)/intentloop crds generate --out crds/

docs: venv
	$(BIN)/python -c 'import sys; from intentloop_intents import apidocs; sys.stdout.write(apidocs.render())' > docs/api.md.tmp
	mv docs/api.md.tmp docs/api.md

crds-check: venv
	$(BIN)/intentloop crds check --dir crds/

unit: venv
	$(BIN)/pytest -q tests/unit

adapters-test: venv system-deps gnmi-cli ocvalidate
	$(BIN)/pytest -q tests/adapters

e2e: setup
	$(BIN)/pytest -q tests/e2e

test: setup lint crds-check
	$(BIN)/pytest -q tests

demo: setup
	$(BIN)/intentloop demo

demo-down: venv
	$(BIN)/intentloop demo down

bench: setup
	$(BIN)/python -m benchmarks.paths
	$(BIN)/python -m benchmarks.device_latency
	$(BIN)/python -m benchmarks.gnmi_latency
	$(BIN)/python -m benchmarks.intents
	$(BIN)/python -m benchmarks.closedloop
	$(BIN)/python -m benchmarks.closedloop_traffic
	$(BIN)/python -m benchmarks.policer
	$(BIN)/python -m benchmarks.telemetry_state
	$(BIN)/python -m benchmarks.ha
	$(BIN)/python -m benchmarks.lab_scale
	$(BIN)/python -m benchmarks.northbound
	$(BIN)/python -m benchmarks.openconfig_latency
	$(BIN)/python -m benchmarks.identifiers
	$(BIN)/python -m benchmarks.restart
	$(BIN)/python -m benchmarks.idle
	$(BIN)/python -m benchmarks.forecast_lead
	$(BIN)/python -m benchmarks.maintenance_gap
	$(BIN)/python -m benchmarks.alarm_noise

# For users with Docker (no container engine is needed for anything above).
docker-build:
	docker build -t $(IMAGE) .

kind-up:
	kind get clusters 2>/dev/null | grep -qx $(KIND_CLUSTER) || kind create cluster --config manifests/kind-config.yaml --name $(KIND_CLUSTER)

kind-load: docker-build
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)

deploy:
	kubectl apply -k manifests/

kind-down:
	kind delete cluster --name $(KIND_CLUSTER)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
