#!/usr/bin/env bash
# Compares two builds of the `jamba` tool on one config, alternating them run by run so that the VM's drift falls
# on both alike: `jamba bench` on f32 and bf16 weights, batch 1 and 8, ROUNDS rounds. Prints each run's prefill,
# decode and training figures and, per case, the median of NEW/OLD ratios (> 1: NEW faster).
#   usage: [CASES="DTYPE BATCH PROMPT TRAIN;…"] compare-builds.sh OLD_JAMBA NEW_JAMBA [CONFIG] [ROUNDS]
#   CASES picks the cases (default: all four below), e.g. CASES="f32 1 512 0" for f32 batch-1 decode alone.
#   e.g.   git worktree add /tmp/old <rev> && dotnet build /tmp/old/src/Jamba.Cli -c Release
#          dotnet build src/Jamba.Cli -c Release
#          tests/Jamba.Benchmarks/compare-builds.sh /tmp/old/src/Jamba.Cli/bin/Release/net10.0/jamba \
#              src/Jamba.Cli/bin/Release/net10.0/jamba /work/shared/bench/bench-30m.json 3
set -euo pipefail
old=$1 new=$2 config=${3:-/work/shared/bench/bench-30m.json} rounds=${4:-3}
export OMP_WAIT_POLICY=PASSIVE
log=$(mktemp)
# dtype, batch, prompt tokens, training tokens (training timed in f32 at batch 1). bf16 prompts are short: on a CPU
# without AVX-512 BF16, libtorch's bf16 matmul takes a slow generic path, and the point here is decode.
cases=("f32 1 512 256" "bf16 1 64 0" "f32 8 512 0" "bf16 8 64 0")
if [[ -n ${CASES:-} ]]; then IFS=';' read -r -a cases <<<"$CASES"; fi

run() { # build-name jamba dtype batch prompt train
    local out
    # --ceiling-matmul 512: the ceilings only scale the "% of bound" columns, which this comparison does not read.
    out=$("$2" bench --config "$config" --dtype "$3" --batch "$4" --prompt-tokens "$5" --new-tokens 64 --runs 3 \
        --train-tokens "$6" --probe-positions none --no-compare --ceiling-matmul 512 2>&1) || { echo "$out" >&2; exit 1; }
    local prefill decode train
    prefill=$(awk '$1 == "prefill" {print $2}' <<<"$out")
    decode=$(awk '$1 == "decode" && $2 ~ /^[0-9.]+$/ {print $2}' <<<"$out")
    train=$(awk '$1 == "training" && $2 == "step" && $3 ~ /^[0-9.]+$/ {print $3}' <<<"$out")
    printf '%s %s b%s prefill %s decode %s train %s\n' "$1" "$3" "$4" "$prefill" "$decode" "${train:--}" | tee -a "$log"
}

for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        read -r dtype batch prompt train <<<"$c"
        if ((r % 2)); then run old "$old" "$dtype" "$batch" "$prompt" "$train"; run new "$new" "$dtype" "$batch" "$prompt" "$train"
        else run new "$new" "$dtype" "$batch" "$prompt" "$train"; run old "$old" "$dtype" "$batch" "$prompt" "$train"; fi
    done
done

echo
echo "median NEW/OLD over $rounds rounds (prefill and decode: tok/s ratio; training: time ratio OLD/NEW; > 1 = NEW faster)"
python3 - "$log" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(dict)
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    b, dtype, batch, _, p, _, d, _, t = line.split()
    runs[(dtype, batch, b)].append((float(p), float(d), None if t == '-' else float(t)))
for key in sorted({(k[0], k[1]) for k in runs}):
    o, n = runs[key + ('old',)], runs[key + ('new',)]
    ratio = lambda i, inv=False: statistics.median((y[i] / x[i]) if not inv else (x[i] / y[i]) for x, y in zip(o, n))
    train = f"{ratio(2, True):.3f}" if o[0][2] is not None else "-"
    print(f"{key[0]:>4} batch {key[1]}: prefill {ratio(0):.3f}  decode {ratio(1):.3f}  training {train}")
PY
