#!/usr/bin/env bash
# Measures `jamba bench` against llama.cpp's `llama-bench` on the same weights (made by convert.sh), alternating the
# two run by run so that the shared machine's drift falls on both alike. Pairs: bf16 with BF16, int8 with Q8_0, q4
# with Q4_0. Prints each run's prefill and decode tok/s and, per precision, the medians and the median of the
# per-round ratios Jamba/llama.cpp (> 1: Jamba faster).
#   usage: compare.sh CONFIG ROUNDS [MODELS]
#     MODELS  convert.sh's OUTDIR for CONFIG (default /work/peer-models/<config name without .json>)
#   env: PRECISIONS  default "bf16 int8 q4"; the int8/q4 Jamba runs need `jamba bench --quantize`, and where this
#                    build lacks it only the llama.cpp side of those rows is measured
#        PROMPT (512), NEW (64), THREADS (2), RUNS (3 timed runs per invocation), WARMUP (1 untimed run before them,
#                    on both sides; 0 or 1)
#        JAMBA, LLAMA_CPP  as in convert.sh
# llama-bench times decode from an empty context and `jamba bench` after its prompt; Jamba keeps attention in 1 or 2
# layers of 8 or 16, so the cache read at PROMPT positions is a small fraction of the weight bytes read per token.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
config=$1 rounds=$2
models=${3:-/work/peer-models/$(basename "$config" .json)}
jamba=${JAMBA:-$repo/src/Jamba.Cli/bin/Release/net10.0/jamba}
llama_bench=${LLAMA_CPP:-/work/llama.cpp}/build/bin/llama-bench
prompt=${PROMPT:-512} new=${NEW:-64} threads=${THREADS:-2} runs=${RUNS:-3} warmup=${WARMUP:-1}
[[ $warmup == 0 || $warmup == 1 ]] || { echo "WARMUP must be 0 or 1 (llama-bench warms up once or not at all)" >&2; exit 1; }
precisions=${PRECISIONS:-bf16 int8 q4}
export OMP_WAIT_POLICY=PASSIVE
[[ -f "$models/hf/config.json" ]] || { echo "no checkpoint in $models/hf: run convert.sh $config $models" >&2; exit 1; }
[[ -x "$llama_bench" ]] || { echo "no llama-bench at $llama_bench: run build.sh" >&2; exit 1; }
quantize_ok=0
[[ $("$jamba" bench --help 2>&1) == *--quantize* ]] && quantize_ok=1

declare -A gguf=([bf16]=bf16 [int8]=q8_0 [q4]=q4_0)
for p in $precisions; do
    [[ -n ${gguf[$p]:-} ]] || { echo "PRECISIONS: unknown '$p' (bf16, int8, q4)" >&2; exit 1; }
done
log=$(mktemp)
echo "config $config, weights $models; prompt $prompt, new $new, threads $threads, $runs runs after $warmup warm-up; $(date -u +%FT%TZ)"
echo "llama.cpp: $(git -C "$(dirname "$llama_bench")/../.." describe --tags --always 2>/dev/null) ($(git -C "$(dirname "$llama_bench")/../.." rev-parse HEAD 2>/dev/null))"

run_jamba() { # precision
    local q=() out prefill decode
    if [[ $1 != bf16 ]]; then
        ((quantize_ok)) || { echo "jamba $1 - -" | tee -a "$log"; return; }
        q=(--quantize "$1")  # q4 at the default --group-size 32, Q4_0's block
    fi
    # --ceiling-matmul 512: the ceilings only scale the "% of bound" columns, which this comparison does not read.
    out=$("$jamba" bench --model "$models/hf" --dtype bf16 "${q[@]}" --threads "$threads" --prompt-tokens "$prompt" \
        --new-tokens "$new" --runs "$runs" --warmup "$warmup" --train-tokens 0 --probe-positions none --no-compare \
        --ceiling-matmul 512 2>&1) || { echo "$out" >&2; exit 1; }
    prefill=$(awk '$1 == "prefill" {print $2}' <<<"$out")
    decode=$(awk '$1 == "decode" && $2 ~ /^[0-9.]+$/ {print $2}' <<<"$out")
    echo "jamba $1 $prefill $decode" | tee -a "$log"
}

run_llama() { # precision
    local file=$models/model-${gguf[$1]}.gguf out err prefill decode
    local nowarm=()
    ((warmup)) || nowarm=(--no-warmup)
    err=$(mktemp)
    out=$("$llama_bench" -m "$file" -p "$prompt" -n "$new" -t "$threads" -r "$runs" "${nowarm[@]}" -o csv 2>"$err") ||
        { cat "$err" >&2; exit 1; }
    rm -f "$err"
    read -r prefill decode < <(python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
pick = lambda p, n: next(float(r["avg_ts"]) for r in rows if int(r["n_prompt"]) == p and int(r["n_gen"]) == n)
print(f"{pick(int(sys.argv[1]), 0):.1f} {pick(0, int(sys.argv[2])):.1f}")' "$prompt" "$new" <<<"$out")
    echo "llama $1 $prefill $decode" | tee -a "$log"
}

echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
echo "side precision prefill-tok/s decode-tok/s"
for ((r = 1; r <= rounds; r++)); do
    for p in $precisions; do
        if ((r % 2)); then run_jamba "$p"; run_llama "$p"; else run_llama "$p"; run_jamba "$p"; fi
    done
done

echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
echo
echo "medians over $rounds rounds (tok/s); ratio = median of per-round Jamba/llama.cpp (> 1: Jamba faster)"
python3 - "$log" "$precisions" <<'PY'
import sys, statistics
runs = {}
for line in open(sys.argv[1]):
    side, p, pre, dec = line.split()
    runs.setdefault((side, p), []).append((None if pre == '-' else float(pre), None if dec == '-' else float(dec)))
names = {'bf16': 'BF16', 'int8': 'Q8_0', 'q4': 'Q4_0'}
med = lambda xs: f"{statistics.median(xs):8.1f}" if xs and None not in xs else "       -"
print(f"{'precision':<14} {'jamba prefill':>13} {'llama prefill':>13} {'ratio':>6}   {'jamba decode':>12} {'llama decode':>12} {'ratio':>6}")
for p in sys.argv[2].split():
    j, l = runs.get(('jamba', p), []), runs.get(('llama', p), [])
    cols = []
    for i in (0, 1):
        js, ls = [x[i] for x in j], [x[i] for x in l]
        ok = js and None not in js and len(js) == len(ls)
        ratio = f"{statistics.median(a / b for a, b in zip(js, ls)):6.2f}" if ok else "     -"
        cols.append(f"{med(js):>13} {med(ls):>13} {ratio}")
    print(f"{p + '/' + names[p]:<14} {cols[0]}   {cols[1]}")
PY
rm -f "$log"
