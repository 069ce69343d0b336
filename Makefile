# vmreserve: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: run test test-under-load build release install bench deps clean console-picture

# Installs redis-server and libhiredis-dev if missing, builds, and serves on 127.0.0.1:5000 in dev
# mode (tokenless requests act as an admin; a local redis-server is started if none answers).
run: deps
	swift build --product vmreserve
	.build/debug/vmreserve serve --dev

# Every test, against real redis-server processes the tests start on free loopback ports (and
# moto's EC2 server for the example EC2 provider).
test:
	@bash scripts/install-deps.sh --test
	swift test

# The same suite while stress-ng keeps every core busy (installs stress-ng if missing).
test-under-load:
	bash scripts/test-under-load.sh

build: deps
	swift build

release: deps
	swift build -c release --product vmreserve

# The release binary (server and command-line client) in $(PREFIX)/bin, ~/.local/bin unless told.
PREFIX ?= $(HOME)/.local
install: release
	install -D -m 0755 .build/release/vmreserve $(PREFIX)/bin/vmreserve

# The benchmark suite of BENCHMARKS.md (release build, wrk, redis-benchmark, matplotlib).
bench: deps
	python3 bench/suite.py

deps:
	@bash scripts/install-deps.sh

# README's picture of the console, taken again by the browser test (BrowserConsoleTests).
console-picture:
	@bash scripts/install-deps.sh --test
	swift build --build-tests
	VMRESERVE_SCREENSHOTS=test-artifacts/console swift test --skip-build --filter aRealBrowserSignsIn
	cp test-artifacts/console/console-readme.png docs/console.png

clean:
	rm -rf .build .vmreserve-data
