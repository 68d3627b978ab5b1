#!/usr/bin/env bash
# One measuring sitting of docs/benchmarks.md ("Sixth sitting"): `jamba bench` in bf16, then twice q4 / llama.cpp
# Q4_0 / int8 / llama.cpp Q8_0 alternating, then q4 in groups of 64. Each Jamba int8/q4 run also prints decode side by
# side with the same weights in bf16 in one process (the "vs bf16" lines). Keeps the lines the tables quote.
#   usage: sitting.sh [MODELS]
#     MODELS  convert.sh's OUTDIR (default /work/peer-models/bench-1b)
#   env: JAMBA, LLAMA_CPP  as in convert.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
M=${1:-/work/peer-models/bench-1b}
J=${JAMBA:-$repo/src/Jamba.Cli/bin/Release/net10.0/jamba}
L=${LLAMA_CPP:-/work/llama.cpp}/build/bin/llama-bench
export OMP_WAIT_POLICY=PASSIVE
common="--prompt-tokens 64 --new-tokens 32 --runs 2 --train-tokens 0 --probe-positions none --probe-steps 32 --ceiling-matmul 256"
keep='^(decode|prefill|load|weights by)'
jamba() { "$J" bench --model "$M/hf" "$@" 2>&1 | grep -E "$keep"; }
llama() { "$L" -m "$M/$1" -p 64 -n 32 -t 2 -r 2 2>&1 | grep -E "pp64|tg32"; }
echo "== jamba bf16"; date +%T
jamba --dtype bf16 $common --no-compare
echo "== llama BF16"; llama model-bf16.gguf
for round in 1 2; do
  echo "== round $round: jamba bf16 weights, q4"; date +%T
  jamba --dtype bf16 --quantize q4 $common
  echo "== llama Q4_0"; llama model-q4_0.gguf
  echo "== jamba bf16 weights, int8"; date +%T
  jamba --dtype bf16 --quantize int8 $common
  echo "== llama Q8_0"; llama model-q8_0.gguf
done
echo "== jamba bf16 weights, q4 G64"; date +%T
jamba --dtype bf16 --quantize q4 --group-size 64 $common
date +%T
