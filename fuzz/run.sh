#!/usr/bin/env bash
# Fuzzes the safetensors reader, load_state_dict and load_checkpoint with
# libFuzzer (clang, AddressSanitizer + UndefinedBehaviorSanitizer).
#   fuzz/run.sh [libFuzzer flags...]     default: -max_total_time=60
# BUILD_DIR (default build-fuzz) holds the build, the corpus the run grows
# (kept between runs), the seeds and any crash artifacts; CXX_FUZZ picks the
# compiler (default clang++-14).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-fuzz}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++-14}" "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"

seeds=$build/seeds corpus=$build/corpus artifacts=$build/artifacts
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
# The committed files up to 8 KiB (copied at run time, never committed twice),
# the inputs of past findings (fuzz/regressions, replayed by every run) and
# the generated ones: the fuzzed model's own files and absurd sizes.
while IFS= read -r -d '' f; do
  cp "$f" "$seeds/$(tr / _ <<<"$f")"
done < <(find tests/parity tests/data fuzz/regressions -name '*.safetensors' -size -8193c -print0)
"$build/make_seeds" "$seeds"
echo "seeds: $(find "$seeds" -type f | wc -l) files, corpus: $(find "$corpus" -type f | wc -l) files"

# -malloc_limit_mb fails the run on any single allocation over 64 MB: no
# input here is bigger than 8 KiB, so only a size taken from an unchecked
# header could ask for that much.
flags=(-rss_limit_mb=1024 -malloc_limit_mb=64 -max_len=8192 -dict=fuzz/safetensors.dict
       -artifact_prefix="$artifacts/" -print_final_stats=1)
[ $# -gt 0 ] || set -- -max_total_time=60
OPENBLAS_NUM_THREADS=1 \
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
  "$build/safetensors_fuzz" "${flags[@]}" "$@" "$corpus" "$seeds"
