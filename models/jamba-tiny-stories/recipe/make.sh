#!/usr/bin/env bash
# Rebuilds models/jamba-tiny-stories from the repository alone: data, tokenizer, two `jamba train` stages, bf16 export.
#
#   bash models/jamba-tiny-stories/recipe/make.sh
#
# Needs the .NET SDK, Python 3 and Debian's python3-sentencepiece (for the tokenizer only; /usr/bin/python3).
# Scratch output goes to runs/jamba-tiny-stories (git-ignored). Data order, initialisation and generator are seeded;
# wall time depends on the machine (about 23 minutes of training on 2 shared cores; see ../README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=models/jamba-tiny-stories
runs=runs/jamba-tiny-stories
spm=tests/Jamba.Tests/Fixtures/tiny-stories-spm

# 1. Data: 900 seeded stories and 3000 seeded two-turn dialogues in the same little world.
(cd docs/data && python3 generate_tiny_stories.py)
python3 docs/data/generate_tiny_dialogues.py

# 2. Tokenizer: SentencePiece BPE (896 pieces, byte fallback, the chat tokens as user-defined symbols), converted to
#    tokenizer.json + tokenizer_config.json (with the chat template) in the release folder; the .model stays a test fixture.
/usr/bin/python3 $out/recipe/make_tokenizer.py $out $spm

# 3. Train: the language model on the stories, then the same weights on the dialogues and the stories.
dotnet build src/Jamba.Cli -c Release
jamba=src/Jamba.Cli/bin/Release/net10.0/jamba
rm -rf $runs
# --threads 1: on a machine whose cores are shared, one libtorch thread is several times faster than two.
$jamba train --config $out/recipe/config.json --tokenizer $out/tokenizer.json \
    --data docs/data/tiny-stories.txt --out $runs/stories \
    --seq-len 128 --batch 16 --steps 200 --lr 2e-3 --warmup 20 --eval-every 50 --keep-checkpoints 1 --seed 1 --threads 1
# The folder holds tiny-dialogues.jsonl (conversations, rendered with the chat template) and tiny-stories.txt
# (plain text, so the model keeps telling stories).
$jamba train --model $runs/stories/checkpoint-000200 \
    --data docs/data --format chat --out $runs/chat \
    --seq-len 128 --batch 16 --steps 400 --lr 1e-3 --warmup 20 --eval-every 100 --keep-checkpoints 1 --seed 2 --threads 1

# 4. Release: bf16 weights and config from the last checkpoint (the tokenizer files are already in place).
python3 $out/recipe/to_bf16.py $runs/chat/checkpoint-000400 $out
ls -l $out
