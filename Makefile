# cocod: the two commands a new user needs are `make run` and `make test` (see README.md).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build build-release run test test-debug test-asan bench fuzz install clean

all: build

deps:
	@bash scripts/install-deps

build: deps
	cmake --preset debug
	cmake --build build/debug -j$(JOBS)

run: build
	@bash scripts/run-dev

test: deps test-debug test-asan build-release

# The release preset (-O2) sees warnings the others do not; they are errors too.
build-release:
	cmake --preset release
	cmake --build build/release -j$(JOBS)

test-debug:
	cmake --preset debug
	cmake --build build/debug -j$(JOBS)
	ctest --preset debug -j$(JOBS) $(CTEST_ARGS)

test-asan:
	cmake --preset asan
	cmake --build build/asan -j$(JOBS)
	ctest --preset asan -j$(JOBS) $(CTEST_ARGS)

bench:
	@bash scripts/install-deps --bench
	bash bench/run
	bash bench/measure
	bash bench/tdx-measure
	bash bench/vmmsock
	bash bench/tdx_update
	bash bench/attest
	bash bench/guests

fuzz:
	@bash scripts/install-deps --fuzz
	bash tests/fuzz/run

# /usr prefix: binaries in /usr/sbin and the config in /etc/cocod, where cocod.service looks.
install: deps
	cmake --preset release -DCMAKE_INSTALL_PREFIX=/usr
	cmake --build build/release -j$(JOBS)
	cmake --install build/release

clean:
	rm -rf build run
