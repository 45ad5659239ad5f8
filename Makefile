# One entry point for humans and CI. `make test` is what the README promises
# and what .ci/run calls; every suite hangs off it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
# torch 2.13.0 CPU: on this machine pip takes it from local disk.
TORCH_SPEC ?= torch==2.13.0
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
COLLECTION_LINK := .collections/ansible_collections/ragstack/aws
CHECKOV_VENV ?= .venv-checkov
SERVICES := services
NODE_PROJECTS := $(SERVICES)/orchestrator $(SERVICES)/demo-ui

.PHONY: setup test lint test-python test-node test-collection images test-images test-roles test-arch test-e2e test-arch-e2e deploy teardown-local demo

setup: $(VENV)/.installed $(COLLECTION_LINK) $(addsuffix /node_modules/.installed,$(NODE_PROJECTS))

$(VENV)/.installed: requirements-dev.txt $(wildcard $(SERVICES)/embedding_service/requirements*.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q "$(TORCH_SPEC)" -r requirements-dev.txt
	touch $@

# Playbooks in this checkout see the repo itself as the ragstack.aws collection.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# checkov pins its own dependency tree; a venv of its own keeps it out of .venv.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q -U pip
	$(CHECKOV_VENV)/bin/pip install -q 'checkov>=3.2,<4'
	touch $@

%/node_modules/.installed: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: setup lint sanity test-python test-node test-collection test-images test-roles test-arch-e2e
	@echo "make test: all suites passed"

lint: setup $(CHECKOV_VENV)/.installed
	ruff check .
	ruff format --check .
	yamllint -s .
	ansible-lint
	cfn-lint cloudformation/*.yaml
	@# --skip-download + BC_SKIP_MAPPING: checkov otherwise phones home for its policy mappings.
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d cloudformation --framework cloudformation \
	  --compact --quiet --skip-download

# Two processes: importing ansible (the filter plugins under test import ansible.errors)
# patches sys.intern, and torch's compiler then refuses to load in the same interpreter, so
# the suites that load the model never share one with those that import ansible.
test-python: setup
	pytest $(SERVICES)/embedding_service/tests tests/sagemaker
	pytest tests/local_aws tests/plugins tests/roles tests/cloudformation

test-node: setup
	cd $(SERVICES)/orchestrator && npm test
	cd $(SERVICES)/demo-ui && npm test && npm run build

test-collection: setup
	pytest tests/collection

# ansible-test sanity on what the collection ships as code (plugins/, meta/), docker-free:
# compile and import on every Python ansible-core supports that the machine has.
.PHONY: sanity
sanity: setup
	python tests/collection/ansible_test_sanity.py

# Local base images from Debian packages, then the service images on top.
IMAGES_FLAGS ?=
images: setup
	python scripts/build_images.py $(IMAGES_FLAGS)

test-images: images
	pytest tests/images

test-roles: images
	python scripts/run_molecule.py

UI_DIST := $(SERVICES)/demo-ui/dist/index.html

# Fargate, Lambda and SageMaker against moto on 127.0.0.1.
test-arch: images $(UI_DIST)
	pytest tests/arch

# The EC2 path end to end on the local default: site.yml, HTTPS on 127.0.0.1:8443, a browser.
test-e2e: images $(UI_DIST) tests/e2e/browser/node_modules/.installed
	pytest tests/e2e

# test-arch and test-e2e side by side: the arch suites run their own moto and registries on
# random ports and the e2e suite owns 127.0.0.1:5001/5055/8443, so they share nothing but the
# machine; most of either is waiting (boots, drains, health checks), so together they take
# little more than the e2e suite alone. tests/arch's output follows when both are done.
ARCH_LOG := .cache/test-arch.log
test-arch-e2e: images $(UI_DIST) tests/e2e/browser/node_modules/.installed
	@mkdir -p $(dir $(ARCH_LOG))
	@echo "test-arch-e2e: tests/arch runs alongside tests/e2e (output in $(ARCH_LOG), shown after)"
	pytest tests/arch > $(ARCH_LOG) 2>&1 & arch_pid=$$!; \
	e2e_rc=0; pytest tests/e2e || e2e_rc=$$?; \
	arch_rc=0; wait $$arch_pid || arch_rc=$$?; \
	echo "---- tests/arch (exit $$arch_rc), run alongside tests/e2e (exit $$e2e_rc) ----"; \
	cat $(ARCH_LOG); \
	test $$e2e_rc -eq 0 && test $$arch_rc -eq 0

# The main job: `ansible-playbook playbooks/site.yml -e arch=ec2` on the local default,
# ending with https://127.0.0.1:8443. The test harness brings up the local AWS first
# (moto, which backs each EC2 instance with a Debian 13 systemd container, and the
# registry standing in for ECR's); the playbook does not know it is simulated.
ARCH ?= ec2
deploy: images $(UI_DIST)
	python tests/harness/local_aws.py up
	ansible-playbook playbooks/site.yml -e arch=$(ARCH)

# Remove the local default: instance containers, the registry, moto.
teardown-local: setup
	python tests/harness/local_aws.py down

# Run the RAG system locally on 127.0.0.1 from the images just built.
demo: images $(UI_DIST)
	python scripts/demo.py

$(UI_DIST): setup
	cd $(SERVICES)/demo-ui && npm run build
