# gopid1 — every target installs what it needs first (make setup), so each works on a fresh Debian machine.
SHELL := /bin/bash
NODE ?= node
GOPID1 := $(NODE) build/src/cli/main.js

.PHONY: all setup host deps compile demo test test-unit test-rules test-e2e test-robust bench soak parity clean distclean

all: compile

## setup: host packages (Docker engine if none answers, QEMU, OVMF, mmdebstrap, cpio, file), npm ci, compile
setup: host deps compile

host:
	./scripts/setup-host.sh

deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

compile: deps
	npx tsc -p tsconfig.json
	@chmod +x build/src/cli/main.js

## demo: build examples/hello into dist/ and boot it until it has said hello three times
demo: setup
	$(GOPID1) build examples/hello --out dist
	$(GOPID1) boot dist --expect 'Hello from Golang' --expect-count 3 --timeout 120

## test: the architecture's rules, unit tests (no Docker), then end-to-end and robustness tests against the real
## Docker engine and QEMU
test: setup
	$(MAKE) --no-print-directory test-rules test-unit test-e2e test-robust

## test-rules: dependency-cruiser checks src/ against the rules in .dependency-cruiser.cjs (docs/ARCHITECTURE.md)
test-rules: deps
	npx depcruise --config .dependency-cruiser.cjs --output-type err src

test-unit: compile test-rules
	$(NODE) --test --test-reporter=spec build/test/unit/

test-e2e: compile
	$(NODE) --test --test-reporter=spec --test-concurrency=1 build/test/e2e/

test-robust: compile
	$(NODE) --test --test-reporter=spec --test-concurrency=1 build/test/robust/

## bench: time the pipeline against the same steps done by hand; writes docs/PERFORMANCE.md
bench: setup
	$(NODE) build/bench/run.js

## parity: Go's own tests of os, os/exec, syscall, net, … as a FROM-scratch container and in the machine; writes docs/PARITY.md
parity: setup
	$(NODE) build/bench/parity-run.js

## soak: boot hello 100 times on the default machine and 20 on each other way, counting hangs; writes docs/RELIABILITY.md
soak: setup
	$(NODE) build/bench/soak.js

clean:
	rm -rf build dist

distclean: clean
	rm -rf node_modules
