#!/bin/bash
# Builds the libFuzzer harnesses of tests/fuzz (a clang ASan+UBSan build of
# its own) and runs them: first every saved regression input of
# tests/fuzz/regressions/<harness>/, then each harness for --seconds,
# starting from seeds gathered from tests/data, config/ and demo/ and the
# corpus earlier runs grew. Any crash, leak, UBSan report, out-of-memory or
# slow input (over --timeout seconds) fails the run; the input is kept in
# BUILD/fuzz-artifacts/<harness>/ and the log in BUILD/fuzz-logs/.
#
#   tests/fuzz/run.sh [--build DIR] [--seconds N] [--timeout N] [--parallel N] [harness...]
#
# Used by `make fuzz` (long runs) and tests/e2e/fuzz_short.sh (short runs
# in `make test`). Exits 0 when all passed, 1 on a finding or a build
# failure, 77 when clang with libFuzzer is not installed.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build-fuzz
SECONDS_EACH=600
TIMEOUT=10
PARALLEL=1
HARNESSES=()
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --seconds) SECONDS_EACH=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --parallel) PARALLEL=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) HARNESSES+=("$1"); shift ;;
    esac
done
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
if [ ${#HARNESSES[@]} -eq 0 ]; then
    for f in "$SRC"/tests/fuzz/fuzz_*.c; do
        h=$(basename "$f" .c)
        HARNESSES+=("${h#fuzz_}")
    done
fi

# --- is libFuzzer there? -----------------------------------------------------
CC=${FUZZ_CC:-clang}
CXX=${FUZZ_CXX:-clang++}   # for fetcher/feed_utf8.cc
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "SKIP: $CC not found: install the Debian packages clang and libclang-rt-14-dev (scripts/setup)"
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    > "$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "SKIP: $CC cannot build a libFuzzer program with ASan+UBSan (install libclang-rt-14-dev):"
    sed 's/^/    /' "$probe/err" | head -5
    exit 77
fi

# --- build ---------------------------------------------------------------------
if ! grep -q '^NEWSMON_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "fuzz: configuring $BUILD"
    # -O1 keeps the sanitizers' reports readable and runs several times faster than -O0;
    # the Debug type keeps assert() on.
    if ! CC=$CC CXX=$CXX cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
            -DNEWSMON_FUZZ=ON -DNEWSMON_SANITIZE=ON >"$BUILD/fuzz-configure.log" 2>&1; then
        cat "$BUILD/fuzz-configure.log"
        echo "FAIL: configuring the fuzz build failed"
        exit 1
    fi
fi
echo "fuzz: building harnesses in $BUILD"
if ! cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target fuzzers >"$BUILD/fuzz-build.log" 2>&1; then
    grep -E 'error|warning' "$BUILD/fuzz-build.log" | head -30
    echo "FAIL: building the fuzz harnesses failed (full log: $BUILD/fuzz-build.log)"
    exit 1
fi
BIN=$BUILD/tests/fuzz

# --- seeds -------------------------------------------------------------------
# seed_dirs HARNESS: prints "dir pattern" pairs the seeds of HARNESS come from.
seed_dirs() {
    case $1 in
        feed|xmlfast) echo "tests/data/feeds *"; echo "demo/site/feeds *"; echo "tests/data/fetcher *.xml" ;;
        extract)  echo "tests/data/extract *.html"; echo "demo/site/news *.html"; echo "tests/data/feeds *.html" ;;
        rules)    echo "config/rules.d *.rules"; echo "tests/data/rules *.rules" ;;
        classify) echo "tests/data/themes *.txt"; echo "tests/data/store *.txt" ;;
        conf)     echo "config *.conf"; echo "tests/data/conf *"; echo "tests/data/notifier/conf *.conf" ;;
        msg)      ;;
    esac
    echo "tests/fuzz/seeds/$1 *"
    echo "tests/fuzz/regressions/$1 *"
}

# make_seeds HARNESS: fills BUILD/fuzz-seeds/HARNESS afresh (names flattened).
make_seeds() {
    local h=$1 out=$BUILD/fuzz-seeds/$1 dir pat f rel
    rm -rf "$out"
    mkdir -p "$out"
    while read -r dir pat; do
        [ -n "$dir" ] && [ -d "$SRC/$dir" ] || continue
        while IFS= read -r -d '' f; do
            rel=${f#"$SRC"/}
            cp "$f" "$out/${rel//\//_}"
        done < <(find "$SRC/$dir" -type f -name "$pat" ! -name README ! -name '*.md' -print0)
    done < <(seed_dirs "$h")
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_one HARNESS: replays the regressions, then fuzzes. Returns 0 or 1.
run_one() {
    local h=$1 exe=$BIN/fuzz_$1 log=$BUILD/fuzz-logs/$1.log
    local art=$BUILD/fuzz-artifacts/$1/ corpus=$BUILD/fuzz-corpus/$1 dict=$SRC/tests/fuzz/dict/$1.dict
    mkdir -p "$art" "$corpus" "$BUILD/fuzz-logs"
    if [ ! -x "$exe" ]; then
        echo "FAIL $h: no harness $exe"
        return 1
    fi
    local regs=()
    if [ -d "$SRC/tests/fuzz/regressions/$h" ]; then
        while IFS= read -r -d '' f; do regs+=("$f"); done \
            < <(find "$SRC/tests/fuzz/regressions/$h" -type f ! -name README ! -name '*.md' -print0 | sort -z)
    fi
    if [ ${#regs[@]} -gt 0 ]; then
        if ! "$exe" -timeout="$TIMEOUT" -error_exitcode=1 -timeout_exitcode=1 "${regs[@]}" >"$log.replay" 2>&1; then
            echo "FAIL $h: a regression input crashes again:"
            grep -E 'Running:|ERROR|SUMMARY|runtime error' "$log.replay" | tail -8 | sed 's/^/    /'
            echo "    (full log: $log.replay)"
            return 1
        fi
    fi
    make_seeds "$h"
    local args=(-max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb=2048
                -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1
                -artifact_prefix="$art" -close_fd_mask=1)
    [ -f "$dict" ] && args+=(-dict="$dict")
    if "$exe" "${args[@]}" "$corpus" "$BUILD/fuzz-seeds/$h" >"$log" 2>&1; then
        local execs cov
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
        echo "ok   $h: ${#regs[@]} regression inputs replayed, ${execs:-?} runs in ${SECONDS_EACH}s, ${cov:-cov: ?}"
        return 0
    fi
    echo "FAIL $h: the fuzzer found a problem:"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz_[a-z]+:|artifact_prefix|Test unit written|ALARM)' "$log" \
        | head -8 | sed 's/^/    /'
    echo "    (full log: $log; reproduce: $exe <the written test unit>)"
    return 1
}

echo "fuzz: ${#HARNESSES[@]} harnesses, ${SECONDS_EACH}s each, $PARALLEL at a time (ASan+UBSan)"
fail=0
for h in "${HARNESSES[@]}"; do
    rm -f "$BUILD/fuzz-logs/$h.rc"
    if [ "$PARALLEL" -le 1 ]; then
        run_one "$h" || fail=1
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n; done
    ( run_one "$h"; echo $? >"$BUILD/fuzz-logs/$h.rc" ) &
done
if [ "$PARALLEL" -gt 1 ]; then
    wait
    for h in "${HARNESSES[@]}"; do
        [ "$(cat "$BUILD/fuzz-logs/$h.rc" 2>/dev/null)" = 0 ] || fail=1
    done
fi
[ $fail -eq 0 ] && echo "fuzz: all harnesses passed" || echo "fuzz: FAILED"
exit $fail
