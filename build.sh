#!/usr/bin/env bash
# Quick start: `./build.sh demo` builds and runs the demo, `./build.sh test`
# builds and runs every test suite (`./build.sh deps` only installs). All
# first install missing Debian packages (as root) or print the apt-get line.
set -euo pipefail
cd "$(dirname "$0")"

packages=(g++ cmake pkg-config libopenblas-dev libfmt-dev doctest-dev nlohmann-json3-dev
          libcli11-dev libopenmpi-dev openmpi-bin)  # Open MPI: distributed/ (optional, TAPEGRAD_WITH_MPI)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages. Run as root first:"
    echo "  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  echo "Installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ "${1:-}" = deps ] && exit 0

build_dir=${BUILD_DIR:-build}
# Extra configure flags, e.g. CMAKE_ARGS="-DTAPEGRAD_WERROR=ON".
read -r -a extra <<<"${CMAKE_ARGS:-}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

case "${1:-demo}" in
  demo) "$build_dir"/examples/sine_to_cosine --plot "$build_dir"/sine_to_cosine.svg ;;
  test) ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" ;;
  *) echo "usage: $0 [demo|test|deps]" >&2; exit 2 ;;
esac
