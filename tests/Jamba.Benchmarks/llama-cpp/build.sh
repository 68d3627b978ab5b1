#!/usr/bin/env bash
# Builds llama.cpp at tag b9793, CPU only, as the measured peer of `jamba bench` (never a dependency of Jamba).
#   usage: build.sh [SRC_DIR] [SOURCE]
#     SRC_DIR  where the tree is checked out and built (default /work/llama.cpp); binaries land in SRC_DIR/build/bin
#     SOURCE   a clone URL or a local git directory holding the commit (default https://github.com/ggml-org/llama.cpp)
#   env: JOBS (default 2), TARGETS (default "llama-bench llama-quantize llama-simple llama-perplexity")
# Any clone holding the commit will do: a fork's snapshot may lack the tag, so the script checks out the commit and
# names it b9793 locally. b9793 is the master commit whose `git rev-list --count` is 9793, as llama.cpp numbers its
# builds.
set -euo pipefail
src=${1:-/work/llama.cpp}
source=${2:-https://github.com/ggml-org/llama.cpp}
tag=b9793
commit=f728adab683387b2bdb085b3854a0f3487a13d0a
jobs=${JOBS:-2}
targets=${TARGETS:-llama-bench llama-quantize llama-simple llama-perplexity}

if [[ ! -d "$src/.git" ]]; then
    # --shared borrows a local snapshot's objects instead of copying them; it is ignored for a URL.
    if [[ -d "$source" ]]; then git clone -q --no-checkout --shared "$source" "$src"
    else git clone -q --no-checkout "$source" "$src"; fi
fi
cd "$src"
# The checkout may report missing large test files (models/ggml-vocab-*.gguf) from a snapshot without them; the build
# does not read them.
git -c advice.detachedHead=false checkout -q "$commit" 2>/dev/null || true
[[ "$(git rev-parse HEAD)" == "$commit" ]] || { echo "could not check out $commit ($tag) from $source" >&2; exit 1; }
[[ "$(git rev-list --count HEAD)" == "${tag#b}" ]] || { echo "$commit is not build $tag" >&2; exit 1; }
git tag -f "$tag" "$commit" >/dev/null

# No -march=native: the AVX/AVX2/FMA/F16C paths are chosen explicitly. GCC 12 miscompiles ggml's AMX paths, so the
# AMX options stay off. Turn GGML_AVX512 (and its VNNI/BF16 options) on only on a CPU that has them.
cmake -S . -B build \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF \
    -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512=OFF \
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
    -DGGML_CUDA=OFF \
    -DLLAMA_CURL=OFF
# shellcheck disable=SC2086
nice -n 10 cmake --build build --config Release -j "$jobs" --target $targets
echo "llama.cpp $tag ($commit) built in $src/build/bin:"
ls -l build/bin
