#!/bin/bash
# The short fuzzing run of `make test`: builds the libFuzzer harnesses of
# tests/fuzz in a clang ASan+UBSan build of their own (when needed), replays
# every regression input of tests/fuzz/regressions/, then runs each harness
# for FUZZ_SHORT_SECONDS (default 15) seconds, two at a time. Fails on any
# crash, leak, UBSan report or input slower than 10 s; skipped (exit 77)
# when clang with libFuzzer is not installed. `make fuzz` runs the same
# harnesses for much longer (docs/reliability.md, "Fuzzing").
#
# The fuzz build lives in NM_FUZZ_BUILD_DIR, by default the folder "fuzz"
# inside the build being tested (or that build itself when it already is
# a fuzz build), so builds of different engineers never share one.
set -u
SRC=${NM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NM_BUILD_DIR:-$SRC/build}
if grep -q '^NEWSMON_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    FUZZ_BUILD=${NM_FUZZ_BUILD_DIR:-$BUILD}
else
    FUZZ_BUILD=${NM_FUZZ_BUILD_DIR:-$BUILD/fuzz}
fi
exec "$SRC/tests/fuzz/run.sh" --build "$FUZZ_BUILD" --seconds "${FUZZ_SHORT_SECONDS:-15}" \
    --timeout 10 --parallel "${FUZZ_SHORT_PARALLEL:-2}"
