#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ for a while each (issue 12) and
# prints, per target: executions, coverage (libFuzzer's `cov:` edges and
# `ft:` features from the last status line), corpus size and crashes.
#
#   benches/fuzz.sh [seconds per target, default 600] [target ...]
#
# One target at a time, one libFuzzer process, so one core: the other is
# left to builds. Needs the nightly toolchain; installs cargo-fuzz when it
# is missing. Not part of scripts/test: the normal suite replays the
# checked-in corpus (fuzz/corpus/<target>/) and the crashes found so far
# (fuzz/regressions/<target>/) through the same harness functions instead.
#
# The growing corpus and any crash go to $FUZZ_WORK (default
# $CARGO_TARGET_DIR/fuzz-work/<target>/), never into the checked-in
# folders: a crash worth keeping is copied by hand into
# fuzz/regressions/<target>/ under a name saying what it triggers, and a
# corpus worth keeping is minimised first (`cargo +nightly fuzz cmin`).
#
# FUZZ_SANITIZER (default none: the crates forbid unsafe code, and the
# panics this hunts need no sanitizer; `address` to check the C and unsafe
# code of dependencies, at about half the speed). Debug assertions, and so
# integer overflow checks, are on. FUZZ_BUILD_JOBS (default 1) for the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
seconds="${1:-600}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
work_root="${FUZZ_WORK:-$CARGO_TARGET_DIR/fuzz-work}"

fail() { echo "benches/fuzz.sh: $*" >&2; exit 1; }
[[ "$seconds" =~ ^[0-9]+$ ]] || fail "seconds must be a number, not '$seconds'"
cargo +nightly --version >/dev/null 2>&1 ||
  fail "the nightly toolchain is required: rustup toolchain install nightly"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "benches/fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

flags=(--sanitizer "$sanitizer" --debug-assertions)
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || fail "no fuzz targets found"

echo "== building ${#targets[*]} targets (sanitizer $sanitizer)"
(cd fuzz && CARGO_BUILD_JOBS="${FUZZ_BUILD_JOBS:-1}" cargo +nightly fuzz build "${flags[@]}")

results=()
for target in "${targets[@]}"; do
  work="$work_root/$target"
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work"/run-*.log
  # The seeds, read-only. Not the regressions: one not fixed yet would
  # crash the fuzzer as it loads its corpus.
  inputs=("$work/corpus")
  [ -d "fuzz/corpus/$target" ] && inputs+=("$PWD/fuzz/corpus/$target")
  echo "== $target: ${seconds}s (logs: $work/run-*.log)"
  # libFuzzer stops at a crash: it is restarted on the grown corpus for the
  # time left, so one crash doesn't end the target's run (at most
  # $FUZZ_MAX_RUNS runs, default 200).
  remaining=$seconds runs=0 executions=0 status=0
  while [ "$remaining" -gt 0 ] && [ "$runs" -lt "${FUZZ_MAX_RUNS:-200}" ]; do
    runs=$((runs + 1))
    log="$work/run-$runs.log"
    started=$(date +%s)
    status=0
    (cd fuzz && cargo +nightly fuzz run "${flags[@]}" "$target" "${inputs[@]}" -- \
      -max_total_time="$remaining" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts/") >"$log" 2>&1 || status=$?
    run_executions=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    executions=$((executions + ${run_executions:-0}))
    took=$(($(date +%s) - started))
    remaining=$((remaining - (took > 0 ? took : 1)))
    [ "$status" -eq 0 ] && break
  done
  last=$(cat "$work"/run-*.log | grep -E '^#[0-9]+.* cov: ' | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || true)
  corpus="$(find "$work/corpus" -type f | wc -l)/$(du -sh "$work/corpus" | cut -f1)"
  crashes=$(find "$work/artifacts" -type f | wc -l)
  sites=$(cat "$work"/run-*.log | grep -o 'panicked at [^ ]*' | sort -u || true)
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes="? (exit $status)"
  fi
  results+=("$(printf '%-16s %12s %6s %8s %8s %16s  %s' "$target" "$executions" "$runs" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes")")
  if [ -n "$sites" ]; then
    echo "   crashes in $work/artifacts/, at:"
    sed 's/^/     /' <<<"$sites"
  fi
done

echo
echo "fuzzing, ${seconds}s per target, sanitizer $sanitizer; cov/ft from the last status line,"
echo "corpus = files/size of the grown corpus, crashes = inputs saved (see the sites above)"
printf '%-16s %12s %6s %8s %8s %16s  %s\n' target executions runs cov ft corpus crashes
printf '%s\n' "${results[@]}"
