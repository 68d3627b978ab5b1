#!/usr/bin/env bash
# Greedy generations of a quantized model against the same checkpoint in float32: the share of generated tokens
# that equal float32's at the same position, before and after the first divergence. Prompts are the first words
# of texts of a corpus, tokenized by the checkpoint's own tokenizer.
#   usage: greedy-agreement.sh JAMBA MODEL_DIR CORPUS [PROMPTS] [NEW_TOKENS]
#   e.g.   greedy-agreement.sh src/Jamba.Cli/bin/Release/net10.0/jamba models/jamba-tiny-stories docs/data/tiny-stories.txt 20 64
set -euo pipefail
jamba=$1 model=$2 corpus=$3 prompts=${4:-20} new=${5:-64}
mapfile -t texts < <(python3 - "$corpus" "$prompts" <<'PY'
import sys
docs = [d.strip() for d in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if d.strip()]
step = max(1, len(docs) // int(sys.argv[2]))
for d in docs[::step][: int(sys.argv[2])]:
    print(" ".join(d.split()[:4]))
PY
)
args=()
for t in "${texts[@]}"; do args+=(--prompt "$t"); done
run() { "$jamba" generate --model "$model" "${args[@]}" --greedy --ignore-eos --max-new-tokens "$new" --format ids --quantize "$1" --dtype f32 2>/dev/null; }
f32=$(run none); int8=$(run int8); q4=$(run q4)
python3 - "$new" <<PY
import sys
new = int(sys.argv[1])
rows = lambda s: [r.split(",")[-new:] for r in s.strip().splitlines()]
ref = rows("""$f32""")
for name, out in (("int8", rows("""$int8""")), ("q4", rows("""$q4"""))):
    same = sum(a == b for r, o in zip(ref, out) for a, b in zip(r, o))
    prefix = [next((i for i, (a, b) in enumerate(zip(r, o)) if a != b), len(r)) for r, o in zip(ref, out)]
    total = sum(len(r) for r in ref)
    print(f"{name:5} vs f32: {same}/{total} generated tokens equal at their position ({100 * same / total:.1f}%); "
          f"{sum(p == len(r) for p, r in zip(prefix, ref))}/{len(ref)} rows identical; identical prefix {sum(prefix) / len(prefix):.1f} tokens on average")
PY
