#!/usr/bin/env bash
# Makes one random bf16 Jamba checkpoint with `jamba init` and converts those same weights for llama.cpp with its
# own convert_hf_to_gguf.py (BF16 GGUF), then llama-quantize to Q8_0 and Q4_0. Prints the file sizes.
#   usage: convert.sh CONFIG OUTDIR
#     writes OUTDIR/hf/ (config.json, model.safetensors, tokenizer.model: what `jamba bench --model` reads)
#     and OUTDIR/model-bf16.gguf, OUTDIR/model-q8_0.gguf, OUTDIR/model-q4_0.gguf
#   env: JAMBA      the jamba CLI (default: this checkout's Release build of src/Jamba.Cli)
#        LLAMA_CPP  the tree built by build.sh (default /work/llama.cpp)
#        TOKENIZER  a SentencePiece tokenizer.model (default /work/shared/fixtures/spm-bpe-2k/tokenizer.model); the
#                   converter pads its vocabulary to the config's vocab_size
#        PYTHON     an interpreter with numpy, torch, sentencepiece and yaml (default /usr/bin/python3, which Debian's
#                   python3-numpy python3-torch python3-sentencepiece python3-yaml python3-tqdm install into)
#        SEED       the init seed (default 0)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
config=$1 out=$2
jamba=${JAMBA:-$repo/src/Jamba.Cli/bin/Release/net10.0/jamba}
llama=${LLAMA_CPP:-/work/llama.cpp}
tokenizer=${TOKENIZER:-/work/shared/fixtures/spm-bpe-2k/tokenizer.model}
python=${PYTHON:-/usr/bin/python3}
[[ -x "$jamba" ]] || { echo "no jamba CLI at $jamba: dotnet build src/Jamba.Cli -c Release" >&2; exit 1; }
[[ -x "$llama/build/bin/llama-quantize" ]] || { echo "no llama-quantize in $llama/build/bin: run build.sh" >&2; exit 1; }

mkdir -p "$out"
"$jamba" init --config "$config" --out "$out/hf" --dtype bf16 --seed "${SEED:-0}" --tokenizer "$tokenizer"

# run_converter.py runs the tree's own converter under Debian 12's torch 1.13, without transformers (see there).
"$python" "$here/run_converter.py" "$llama" "$out/hf" --outtype bf16 --outfile "$out/model-bf16.gguf"
for q in Q8_0 Q4_0; do
    "$llama/build/bin/llama-quantize" "$out/model-bf16.gguf" "$out/model-${q,,}.gguf" "$q" 2
done

echo
echo "sizes (bytes):"
for f in "$out"/hf/model*.safetensors "$out"/model-{bf16,q8_0,q4_0}.gguf; do
    printf '%14s  %s\n' "$(stat -c %s "$f")" "$f"
done
