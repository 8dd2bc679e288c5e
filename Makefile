# cocod: the two commands a new user needs are `make run` and `make test` (see README.md).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build run test test-debug test-asan bench fuzz install clean

all: build

deps:
	@bash scripts/install-deps

build: deps
	cmake --preset debug
	cmake --build build/debug -j$(JOBS)

run: build
	@bash scripts/run-dev

test: deps test-debug test-asan

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

fuzz:
	@bash scripts/install-deps --fuzz
	bash tests/fuzz/run

install: deps
	cmake --preset release
	cmake --build build/release -j$(JOBS)
	cmake --install build/release

clean:
	rm -rf build run
