# The two commands of the README. Both set the machine up first (packages
# that are missing are installed with apt-get), then build into build/.
#   make run            the pipeline on the bundled demo, until Ctrl-C
#   make run ONCE=1     the same, exiting once the demo has been alerted
#   make test           the whole test suite (ctest)
#   make test-asan      the suite again in an ASan+UBSan build (build-asan/)
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all setup build run test test-asan clean

all: build

setup:
	@scripts/setup

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run-demo $(if $(ONCE),--once,)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNEWSMON_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) build-asan
