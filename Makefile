# logistis: `make run` for a local collector, `make test` for the suite.
# A custom image repository or build arguments go in .local/Makefile (see README).
-include .local/Makefile

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
IMAGE_REPO ?= ghcr.io/logistis/logistis
IMAGE_TAG ?= dev
IMAGE := $(IMAGE_REPO):$(IMAGE_TAG)
DOCKER_BUILD_ARGS ?=
DATA_DIR ?= .logistis
# make run: the webhook on loopback only. It takes no path token locally, so on 0.0.0.0 anyone
# on the network could write this machine's history. The manifests set their own addresses.
WEBHOOK_LISTEN ?= 127.0.0.1:8443
API_URL ?= http://127.0.0.1:8080

.PHONY: install test lint run demo tui bench soak image deploy undeploy clean

install: $(STAMP) ## create .venv and install logistis with its test tools

# PYTHONWARNINGS: setuptools' box about editable installs beside same-named folders is noise here.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install --quiet -e '.[dev,collector]'
	touch $(STAMP)

lint: $(STAMP) ## ruff, the import contracts and mypy (collector, client, kubectl plugin, TUI; strict; pyproject.toml)
	$(VENV)/bin/ruff check logistis tests tools
	$(VENV)/bin/ruff format --check logistis tests tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# One worker more than the logical CPUs, up to 8: the tests wait on collector and PostgreSQL
# processes about as much as they compute. On 2 CPUs, quiet: 3 workers 329 s, 2 387 s, 4 356 s.
TEST_WORKERS ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$((n < 8 ? n + 1 : 8)))
# The slowest phases listed at the end: a test near its timeout in CI shows whether its call or
# its fixtures took the time.
test: lint ## the whole suite (well under five minutes)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --durations=20

run: $(STAMP) ## a local collector on SQLite in $(DATA_DIR), self-signed TLS for localhost, on loopback
	$(VENV)/bin/logistis-collector --data-dir $(DATA_DIR) --webhook-listen $(WEBHOOK_LISTEN)

tui: $(STAMP) ## the TUI on the collector of `make run` ($(API_URL))
	$(VENV)/bin/logistis-tui --url $(API_URL)

demo: $(STAMP) ## a local collector fed with realistic traffic, and the TUI on it
	$(PY) tools/demo.py

.PHONY: dist
dist: $(STAMP) ## the kubectl logistis archive for krew in dist/, and plugins/logistis.yaml for it
	$(PY) tools/dist.py

bench: $(STAMP) ## the benchmark suite; results in BENCHMARKS.md
	$(PY) tools/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Deploying (docs/deploy.md). KUSTOMIZATION picks the variant, for example
# manifests/overlays/cert-manager; `deploy` applies it with $(IMAGE) in place of the
# manifests' image, through an overlay it writes to $(DEPLOY_DIR).
KUBECTL ?= kubectl
DOCKER ?= docker
KIND ?= kind
KUSTOMIZATION ?= manifests
MANIFEST_IMAGE := ghcr.io/logistis/logistis
WEBHOOK_CONFIGURATION := logistis
APISERVICE := v1alpha1.logistis.io
DEPLOY_DIR := .local/deploy

image: ## build the collector image $(IMAGE)
	$(DOCKER) build $(DOCKER_BUILD_ARGS) --tag $(IMAGE) .

deploy: image ## build, load into kind when the context is kind-*, apply the manifests
	@context="$$($(KUBECTL) config current-context)" || exit 1; \
	case "$$context" in kind-*) \
		echo "loading $(IMAGE) into kind cluster $${context#kind-}"; \
		$(KIND) load docker-image "$(IMAGE)" --name "$${context#kind-}";; \
	esac
	@mkdir -p $(DEPLOY_DIR)
	@printf '%s\n' \
		'# Written by make deploy: $(KUSTOMIZATION) with the image $(IMAGE).' \
		'apiVersion: kustomize.config.k8s.io/v1beta1' \
		'kind: Kustomization' \
		'resources:' \
		'  - ../../$(KUSTOMIZATION)' \
		'images:' \
		'  - name: $(MANIFEST_IMAGE)' \
		'    newName: $(IMAGE_REPO)' \
		'    newTag: "$(IMAGE_TAG)"' > $(DEPLOY_DIR)/kustomization.yaml
	$(KUBECTL) apply -k $(DEPLOY_DIR)

# The webhook configuration goes first: the apiserver must stop calling the collector
# before the collector goes away.
undeploy: ## remove logistis, APIService and webhook configuration first (the recorded history too)
	$(KUBECTL) delete apiservice $(APISERVICE) --ignore-not-found
	$(KUBECTL) delete validatingwebhookconfiguration $(WEBHOOK_CONFIGURATION) --ignore-not-found
	$(KUBECTL) delete -k $(KUSTOMIZATION) --ignore-not-found

soak: $(STAMP) ## the reliability suite at full strength (kill -9 rounds, fuzz, stream fan-out); figures at the end
	$(PY) tools/soak.py
