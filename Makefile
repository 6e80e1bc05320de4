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

# make deb: the Debian package (CPack) from a release build in $(BUILD);
# the .deb is written to $(BUILD)/. See docs/deployment.md.
.PHONY: deb
deb: build
	@cd $(BUILD) && cpack -G DEB
	@ls -1 $(BUILD)/newsmon_*.deb

# ---- fuzzing (docs/reliability.md, "Fuzzing") -------------------------------
#   make fuzz                    every libFuzzer harness of tests/fuzz for
#                                FUZZ_SECONDS (default 600) each, in build-fuzz/
#   make fuzz FUZZ_SECONDS=3600 FUZZ_HARNESSES="feed extract"
FUZZ_SECONDS   ?= 600
FUZZ_HARNESSES ?=
FUZZ_PARALLEL  ?= 1

.PHONY: fuzz
fuzz: setup
	@tests/fuzz/run.sh --build build-fuzz --seconds $(FUZZ_SECONDS) --parallel $(FUZZ_PARALLEL) $(FUZZ_HARNESSES)

# ---- benchmarks (bench/README.md, docs/benchmarks.md) -----------------------
#   make bench                   every benchmark against its peer (about 25
#                                minutes on 2 cores), from a Release build in
#                                build-bench/; writes docs/benchmarks.md
#   make bench BENCH_RUNS=5 BENCH_ONLY=feed,rules
BENCH_RUNS ?= 3
BENCH_HOUR_RUNS ?= 3
BENCH_ONLY ?=

.PHONY: bench
bench: setup
	@bench/run-all --build build-bench --runs $(BENCH_RUNS) --hour-runs $(BENCH_HOUR_RUNS) $(if $(BENCH_ONLY),--only $(BENCH_ONLY),)

# ---- chaos and soak (docs/reliability.md, "Chaos", "Soak") -----------------
#   make chaos     200 feeds x 50 items, a random daemon SIGKILLed every 2-5 s
#                  for CHAOS_SECONDS (default 180); last line
#                  "chaos: N items, K kills, L lost, D duplicated"
#   make soak      SOAK_MINUTES (default 10) of steady load; RSS and open
#                  descriptors of each daemon sampled every 10 s, as a table
CHAOS_SECONDS ?= 180
CHAOS_ARGS    ?=
SOAK_MINUTES  ?= 10
SOAK_ARGS     ?=

.PHONY: chaos soak
chaos: build
	@NM_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 tests/chaos/chaos.py --feeds 200 --items 50 \
	    --duration $(CHAOS_SECONDS) --kill-min 2 --kill-max 5 $(CHAOS_ARGS)

soak: build
	@NM_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 tests/soak/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)
