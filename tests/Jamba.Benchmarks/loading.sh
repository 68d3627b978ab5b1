#!/usr/bin/env bash
# Loading bench-1b (docs/benchmarks.md, "Loading": "Against reading the files"): `jamba bench`'s load line for the
# reference bf16 checkpoint loaded in bf16, in f32, quantized to int8 and q4 on the way in, and for the checkpoints
# `jamba quantize` wrote, twice each from the page cache. With --cold (as root, on Linux) it then drops the page cache
# before each load of the bf16 and q4 cases, and times `cat` of the same files from a dropped cache beside them.
#   usage: loading.sh [MODELS] [--cold]
#     MODELS  a folder with hf/ (the reference checkpoint; default /work/peer-models/bench-1b, convert.sh's OUTDIR);
#             int8/ and q4/ are written there with `jamba quantize` when missing
#   env: JAMBA  the jamba tool (default: this checkout's Release build)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
M=/work/peer-models/bench-1b
cold=0
for a in "$@"; do
  case "$a" in
    --cold) cold=1 ;;
    *) M=$a ;;
  esac
done
J=${JAMBA:-$repo/src/Jamba.Cli/bin/Release/net10.0/jamba}
export OMP_WAIT_POLICY=PASSIVE
quick="--prompt-tokens 8 --new-tokens 4 --runs 1 --probe-steps 1 --no-compare --ceiling-matmul 64 --train-tokens 0 --probe-positions none"
for q in int8 q4; do
  [ -d "$M/$q" ] || "$J" quantize --model "$M/hf" --out "$M/$q" --quantize "$q" --dtype bf16 | tail -1
done
load() { "$J" bench --model "$M/$1" --dtype "$2" ${3:+--quantize $3} $quick 2>&1 | grep -E '^load' | sed -E 's/ +/ /g'; }
drop() { sync; echo 1 > /proc/sys/vm/drop_caches; }
cases=("hf bf16" "hf f32" "hf bf16 int8" "hf bf16 q4" "int8 bf16" "q4 bf16")
cat "$M"/hf/*.safetensors "$M"/int8/*.safetensors "$M"/q4/*.safetensors > /dev/null   # into the page cache
for round in 1 2; do
  for c in "${cases[@]}"; do
    set -- $c
    echo "$1 --dtype $2${3:+ --quantize $3}: $(load "$@")"
  done
done
if [ "$cold" = 1 ]; then
  for round in 1 2 3; do
    for c in "hf bf16" "hf bf16 q4" "q4 bf16"; do
      set -- $c
      drop; start=$(date +%s.%N); cat "$M/$1"/*.safetensors > /dev/null; end=$(date +%s.%N)
      printf 'cold cat %s: %.2f s\n' "$1" "$(echo "$end - $start" | bc)"
      drop; echo "cold $1 --dtype $2${3:+ --quantize $3}: $(load "$@" | cut -d' ' -f1-3)"
    done
  done
fi
