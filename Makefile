# Entry points for people and CI. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := build/collections/ansible_collections/ack/servicemesh
SANITY_ROOT ?= build/sanity
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/ack/servicemesh
SANITY_PYTHON ?= 3.11
ANSIBLE_TEST ?= ansible-test
# The newest supported ansible-core (requirements-ansible-newest.txt) in a venv of its own; the oldest is .venv's.
NEWEST := build/venv-ansible-newest
# A pyenv shim answers to `command -v` but may refuse to run, so each candidate must run.
NEWEST_PYTHON ?= $(shell for p in $(HOME)/.pyenv/versions/3.13*/bin/python3.13 $$(command -v python3.13); do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: help venv link testenv-up testenv-down demo test unit sanity lint integration molecule conformance \
        build import bench bench-smoke clean docs changelog-lint ansible-newest ansible-newest-offline oracle proxy-tools \
        browser-deps browser demo-images mesh-deps prebuild prebuild-wait

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

demo: venv link browser-deps mesh-deps
	scripts/testenv up
	$(PY) scripts/demo.py
	if [ "$${DEMO_TRAFFIC:-1}" != 0 ]; then $(PY) scripts/demo_canary.py; fi

# The README's screenshot, taken by `make demo` (build/demo/); needs the mesh lab.
demo-images: demo
	mkdir -p docs/images
	cp build/demo/user-v2-jason.png docs/images/productpage-user-v2-jason.png

# The Go builds (many minutes on a cold cache) run in the background from the start; the steps that need none
# of them come first, and each step that needs a binary waits for its build (scripts/prebuild).
test: venv link prebuild unit sanity lint changelog-lint import docs ansible-newest-offline oracle prebuild-wait \
      proxy-tools integration bench-smoke browser molecule ansible-newest
	@echo "make test: all suites passed"

prebuild: venv
	scripts/prebuild start

prebuild-wait:
	scripts/prebuild wait

unit: venv link
	$(PY) -m pytest tests/unit -q -p no:cacheprovider

# Differential test: our validator against Istio's own validation code (istio-validate, built into the cache
# from the istio.io/istio that istiod runs), on 10,000 hypothesis-generated objects plus the regression corpus.
oracle: venv link
	$(PY) -m pytest tests/oracle -q -p no:cacheprovider

sanity: venv
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard | grep -v '^tests/\(testenv\|mesh\)/go\.\|^tests/mesh/istio-validate/\|^playbooks/collections/' | tar -cf - -T - | tar -xf - -C $(SANITY_TREE)
	mkdir -p $(HOME)/.ansible/test/cache
	for v in 24_2 25_0 25_1 25_2 25_3; do f=$(HOME)/.ansible/test/cache/get_pip_$$v.py; \
	  test -s $$f || cp scripts/get_pip_bootstrap.py $$f; done
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  $(ANSIBLE_TEST) sanity --venv --python $(SANITY_PYTHON) --color no

lint: venv link
	ansible-lint --profile production

# The mesh lab's files and the other files run side by side, then the tests that stop an API server alone
# (scripts/integration; INTEGRATION_SERIAL=1 runs everything one test at a time).
integration: venv link testenv-up mesh-deps
	PYTHON=$(PY) scripts/integration $(if $(INTEGRATION_SERIAL),--serial)

# The connection tests (tests/cluster/test_connect.py) need a real forward proxy.
proxy-tools:
	@command -v tinyproxy >/dev/null || test -x /usr/bin/tinyproxy || { \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tinyproxy) || \
	  (sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q tinyproxy); }

# Debian's Chromium and its driver, for the browser tests and the demo's screenshots; installed when missing.
# DejaVu has the star glyphs the product page shows.
BROWSER_FILES := /usr/bin/chromium /usr/bin/chromedriver /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
browser-deps:
	@for f in $(BROWSER_FILES); do test -e $$f || missing=1; done; [ -z "$$missing" ] || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -q && $$sudo apt-get install -y -q chromium chromium-driver fonts-dejavu-core; }

browser: venv link testenv-up browser-deps
	$(PY) -m pytest tests/browser -q -p no:cacheprovider

# Debian packages the mesh lab needs besides the Go builds: Prometheus scrapes the Envoys for the canary gates.
mesh-deps:
	@command -v prometheus >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus; }

molecule: venv link
	cd extensions && molecule test --all

build: venv
	mkdir -p build && ansible-galaxy collection build --force --output-path build .

# galaxy-importer pins its own ansible-core and ansible-lint, so it gets a venv of its own.
GALAXY_IMPORTER := galaxy-importer==0.4.44
import: build
	test -x build/importer/bin/python || python3.11 -m venv build/importer
	build/importer/bin/pip install -q $(GALAXY_IMPORTER)
	cd build && PATH=$(CURDIR)/build/importer/bin:$$PATH importer/bin/python -m galaxy_importer.main \
	  ack-servicemesh-$$(sed -n 's/^version: //p' ../galaxy.yml).tar.gz

changelog-lint: venv
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

# HTML docs of modules, plugins, roles and docs/*.md with antsibull-docs; warnings fail (build/docs/build/html).
docs: venv link
	scripts/docs

$(NEWEST)/.installed: requirements-ansible-newest.txt
	@test -n "$(NEWEST_PYTHON)" || { echo "python3.13 not found (PATH or ~/.pyenv/versions/3.13*)"; exit 1; }
	test -x $(NEWEST)/bin/python || $(NEWEST_PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/pip install -q -r requirements-ansible-newest.txt
	touch $@

# Unit tests, sanity and one scenario on the newest supported ansible-core; the rest of `make test` is the oldest.
# ansible-newest-offline is the part that needs no API server.
ansible-newest-offline: venv link $(NEWEST)/.installed
	$(NEWEST)/bin/python -m pytest tests/unit -q -p no:cacheprovider -n 2
	PATH=$(dir $(NEWEST_PYTHON)):$$PATH $(MAKE) sanity ANSIBLE_TEST=$(CURDIR)/$(NEWEST)/bin/ansible-test \
	  SANITY_PYTHON=3.13 SANITY_ROOT=build/sanity-newest

ansible-newest: ansible-newest-offline testenv-up
	$(NEWEST)/bin/python -m pytest tests/cluster/test_scenarios.py -q -p no:cacheprovider \
	  -k "test_scenario_equals_istio_sample_and_is_idempotent and fault-delay"

# kubernetes.core's side of the benchmarks: the `ansible` package in a venv of its own (benchmarks/README.md).
BENCH_VENV := build/bench-venv
$(BENCH_VENV)/.installed: benchmarks/requirements.txt
	test -x $(BENCH_VENV)/bin/python || python3.11 -m venv $(BENCH_VENV) || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r benchmarks/requirements.txt
	touch $@

bench: venv link testenv-up $(BENCH_VENV)/.installed
	$(PY) benchmarks/run.py
	ACK_DIFF_CONFIGS=200 $(PY) -m pytest tests/cluster/test_simulator_differential.py -q -p no:cacheprovider -s

# A short benchmark run that fails when a run breaks (failed scenario, wrong end state, a no-op that changes or
# writes); it asserts nothing about time.
bench-smoke: venv link testenv-up $(BENCH_VENV)/.installed
	$(PY) benchmarks/run.py --smoke --require-baselines

clean: testenv-down
	rm -rf build
