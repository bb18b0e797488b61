# Entry points for people and CI. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := build/collections/ansible_collections/ack/servicemesh
SANITY_TREE := build/sanity/ansible_collections/ack/servicemesh

.PHONY: mesh-deps help venv link testenv-up testenv-down demo test unit sanity lint integration molecule conformance \
        build import bench bench-smoke clean

help:
	@echo "make demo   - start the local control plane and run the scenarios against it"
	@echo "make test   - every test: unit, sanity, lint, integration, molecule"
	@echo "make bench  - benchmarks, written to benchmarks/RESULTS.md"

$(VENV)/.installed: requirements-dev.txt requirements.txt
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -r requirements.txt
	touch $@

venv: $(VENV)/.installed

link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@test -L $(COLLECTION_LINK) || ln -s $(CURDIR) $(COLLECTION_LINK)

testenv-up: venv
	scripts/testenv up
	scripts/testenv up --profile v1alpha3

testenv-down:
	-scripts/testenv down --profile v1alpha3
	-scripts/testenv down

demo: venv link mesh-deps
	scripts/testenv up
	$(PY) scripts/demo.py
	if [ "$${DEMO_TRAFFIC:-1}" != 0 ]; then $(PY) scripts/demo_canary.py; fi

test: venv link unit sanity lint integration molecule
	@echo "make test: all suites passed"

unit: venv link
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

sanity: venv
	rm -rf build/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard | grep -v '^tests/\(testenv\|mesh\)/go\.' | tar -cf - -T - | tar -xf - -C $(SANITY_TREE)
	mkdir -p $(HOME)/.ansible/test/cache
	for v in 24_2 25_0 25_1 25_2 25_3; do f=$(HOME)/.ansible/test/cache/get_pip_$$v.py; \
	  test -s $$f || cp scripts/get_pip_bootstrap.py $$f; done
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  ansible-test sanity --venv --python 3.11 --color no

lint: venv link
	ansible-lint --profile production

# Debian packages the mesh lab needs besides the Go builds: Prometheus scrapes the Envoys for the canary gates.
mesh-deps:
	@command -v prometheus >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus; }

integration: venv link testenv-up mesh-deps
	$(PY) -m pytest tests/integration -q -p no:cacheprovider

molecule: venv link
	cd extensions && molecule test --all

build: venv
	mkdir -p build && ansible-galaxy collection build --force --output-path build .

# galaxy-importer pins its own ansible-core, so it gets a venv of its own.
import: build
	test -x build/importer/bin/python || python3.11 -m venv build/importer
	build/importer/bin/pip install -q galaxy-importer
	cd build && PATH=$(CURDIR)/build/importer/bin:$$PATH importer/bin/python -m galaxy_importer.main \
	  ack-servicemesh-$$(sed -n 's/^version: //p' ../galaxy.yml).tar.gz

bench: venv link testenv-up
	$(PY) benchmarks/run.py

bench-smoke: venv link testenv-up
	$(PY) benchmarks/run.py --smoke

clean: testenv-down
	rm -rf build
