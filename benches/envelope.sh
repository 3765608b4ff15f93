#!/usr/bin/env bash
# Side-by-side figures for the encrypted recording store (issue 2), one run:
#   1. seal/open throughput on 1 GiB vs raw AES-256-GCM (criterion);
#   2. the same 1 GiB file sealed by callvault and by the age CLI;
#   3. peak memory sealing a 2 GiB and a 200 MiB stream;
#   4. time to first byte of a range read at the start vs near the end of a
#      1 GiB stored object (criterion, storage service over the filesystem store).
# Needs the `age` CLI (apt-get install age) and bc. Scratch files go to $TMPDIR.
# Run it on a quiet machine: the two cores are the whole budget.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
for tool in age age-keygen bc; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed: apt-get install age bc" >&2; exit 1; }
done

# tmpfs when there is one, so the comparison measures the tools, not the disk.
scratch=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cargo build --release -q -p callvault-envelope --example seal_file
seal="$CARGO_TARGET_DIR/release/examples/seal_file"

echo "== 1. throughput vs raw AES-256-GCM (1 GiB, criterion)"
cargo bench -q -p callvault-envelope --bench envelope -- --noplot 2>&1 | grep -E 'time:|thrpt:' || true

echo "== 2. 1 GiB file: callvault vs age (best of 3, wall seconds)"
head -c $((1 << 30)) /dev/urandom > "$scratch/in.bin"
age-keygen -o "$scratch/age.key" 2>/dev/null
recipient=$(age-keygen -y "$scratch/age.key")
best() { # best wall time of 3 runs of "$@"
  local best="" start end t
  for _ in 1 2 3; do
    start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}
cat "$scratch/in.bin" > /dev/null # warm the page cache for both
t_cv=$(best "$seal" seal "$scratch/in.bin" "$scratch/out.cvro")
t_age=$(best age -r "$recipient" -o "$scratch/out.age" "$scratch/in.bin")
printf 'callvault seal: %ss (%.0f MiB/s)\n' "$t_cv" "$(echo "1024 / $t_cv" | bc -l)"
printf 'age encrypt:    %ss (%.0f MiB/s)\n' "$t_age" "$(echo "1024 / $t_age" | bc -l)"
printf 'callvault is %.1fx faster than age (file to file, tmpfs)\n' "$(echo "$t_age / $t_cv" | bc -l)"
# The same, output discarded: what each tool's sealing costs once writing
# 1 GiB of output (the same for both) is taken out.
t_cv0=$(best "$seal" seal "$scratch/in.bin" /dev/null)
t_age0=$(best sh -c "age -r '$recipient' '$scratch/in.bin' > /dev/null")
printf 'output discarded: callvault %ss, age %ss: %.1fx\n' "$t_cv0" "$t_age0" "$(echo "$t_age0 / $t_cv0" | bc -l)"
# The floor no sealing tool can go under: moving the bytes at all. Reading
# the input (cat), and reading plus writing it (cp), against a third of
# age's time, which is what "3x faster than age" would need.
t_cat=$(best cat "$scratch/in.bin")
t_cp=$(best cp "$scratch/in.bin" "$scratch/copy.bin")
rm -f "$scratch/copy.bin"
printf 'floor: reading the input alone (cat) %ss vs age/3 = %.3fs (output discarded)\n' "$t_cat" "$(echo "$t_age0 / 3" | bc -l)"
printf 'floor: copying it (cp, read + write) %ss vs age/3 = %.3fs (file to file)\n' "$t_cp" "$(echo "$t_age / 3" | bc -l)"
rm -f "$scratch/out.cvro" "$scratch/out.age" "$scratch/in.bin"

echo "== 3. peak memory (VmHWM) sealing a stream from stdin"
for mib in 200 2048; do
  line=$(head -c $((mib << 20)) /dev/zero | "$seal" seal - /dev/null 2>&1 >/dev/null)
  kib=${line##*peak_rss_kib=}
  echo "${mib} MiB stream: peak RSS $((kib / 1024)) MiB"
done

echo "== 4. time to first byte: range at the start vs near the end of 1 GiB"
cargo bench -q -p callvault-storage --bench playback -- --noplot 2>&1 | grep -E 'time:|^ttfb' || true
