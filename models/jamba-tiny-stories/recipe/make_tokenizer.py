"""Trains the tiny-stories SentencePiece BPE tokenizer and writes it as a Hugging Face tokenizer.json.

    /usr/bin/python3 models/jamba-tiny-stories/recipe/make_tokenizer.py OUT_DIR SPM_DIR

Needs Debian's python3-sentencepiece (0.1.97) and the standard library only. Writes:
  SPM_DIR/tokenizer.model, SPM_DIR/expected.json   the SentencePiece model and its ids for test strings
  OUT_DIR/tokenizer.json, OUT_DIR/tokenizer_config.json   the release files (no tokenizer.model)

The conversion follows transformers' LlamaConverter (legacy mode): the vocabulary is the piece list in id order, the
merges are every split of a piece into two pieces of the vocabulary, ranked by the merged piece's score (then by the
ids of the two halves), normalizer Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer, byte fallback, and the
decoder Replace("▁" → " ") + ByteFallback + Fuse + Strip(1 leading space). The chat tokens are SentencePiece
user-defined symbols and Hugging Face added tokens with the same ids.
"""
import json
import os
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "docs", "data")
VOCAB_SIZE = 896
CHAT_TOKENS = ["<|bom|>", "<|eom|>", "<|system|>", "<|user|>", "<|assistant|>"]
PAD, UNK, EOS = "<|pad|>", "<|unk|>", "<|endoftext|>"

CHAT_TEMPLATE = (
    "{#- Jamba-style turns: <|bom|><|role|>text<|eom|>. A leading system message is optional. -#}\n"
    "{%- if messages and messages[0].role == 'system' -%}\n"
    "{{- '<|bom|><|system|>' + messages[0].content|trim + '<|eom|>' -}}\n"
    "{%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "{%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "{%- if message.role not in ['user', 'assistant'] -%}\n"
    "{{- raise_exception('This model knows the roles system (first), user and assistant, not ' ~ message.role) -}}\n"
    "{%- endif -%}\n"
    "{{- '<|bom|><|' + message.role + '|>' + message.content|trim + '<|eom|>' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|bom|><|assistant|>' -}}\n"
    "{%- endif -%}\n"
)


def training_text(path):
    """The stories and every message of the dialogues, one sentence group per line."""
    lines = [l for l in open(os.path.join(DATA, "tiny-stories.txt"), encoding="utf-8").read().split("\n") if l.strip()]
    for line in open(os.path.join(DATA, "tiny-dialogues.jsonl"), encoding="utf-8"):
        lines.extend(m["content"] for m in json.loads(line)["messages"])
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def train(spm_dir):
    text = os.path.join(spm_dir, "training-text.txt")
    training_text(text)
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=os.path.join(spm_dir, "tokenizer"), model_type="bpe", vocab_size=VOCAB_SIZE,
        character_coverage=1.0, byte_fallback=True, split_digits=True, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        pad_id=0, unk_id=1, eos_id=2, bos_id=-1, pad_piece=PAD, unk_piece=UNK, eos_piece=EOS,
        user_defined_symbols=CHAT_TOKENS, num_threads=1, seed_sentencepiece_size=100000,
        minloglevel=2)
    os.remove(text)
    return spm.SentencePieceProcessor(model_file=os.path.join(spm_dir, "tokenizer.model"))


def added(id_, content):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def convert(sp):
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    specials = {i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i) or sp.id_to_piece(i) in CHAT_TOKENS}
    merges = []
    for piece, pid in vocab.items():
        if pid in specials or sp.is_byte(pid):
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab and vocab[left] not in specials and vocab[right] not in specials:
                merges.append((-sp.get_score(pid), pid, vocab[left], vocab[right], left, right))
    merges.sort()
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(i, sp.id_to_piece(i)) for i in sorted(specials)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": UNK, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[m[4], m[5]] for m in merges]},
    }


def tokenizer_config(sp):
    decoder = {}
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i) or sp.id_to_piece(i) in CHAT_TOKENS:
            entry = added(i, sp.id_to_piece(i))
            del entry["id"]
            decoder[str(i)] = entry
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": CHAT_TOKENS,
        # GPT-2's convention: the document separator the model was trained with also starts a prompt.
        "bos_token": EOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": UNK,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 4096,
        "tokenizer_class": "LlamaTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    }


def expected(sp):
    """SentencePiece's ids for every corpus line and a few strings outside it (byte fallback, spaces, digits)."""
    lines = [l for l in open(os.path.join(DATA, "tiny-stories.txt"), encoding="utf-8").read().split("\n") if l.strip()]
    extra = ["", " ", "  two  spaces", "a\tb\nc", "What is 12 + 7?", "Zoë and the café", "日本", "🦊 fox",
             "The blue cat has a kite.", "Hello! I am a small Jamba model.", "\u2581", "x" * 40, "unseen wordz qq"]
    with open(os.path.join(DATA, "tiny-dialogues.jsonl"), encoding="utf-8") as f:
        dialogue_lines = [json.loads(next(f))["messages"] for _ in range(50)]
    extra += [m["content"] for d in dialogue_lines for m in d]
    strings = lines[:150] + extra
    return {"tool": "sentencepiece " + spm.__version__, "cases": [{"text": s, "ids": sp.encode(s)} for s in strings]}


def main():
    out_dir, spm_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(spm_dir, exist_ok=True)
    sp = train(spm_dir)
    os.remove(os.path.join(spm_dir, "tokenizer.vocab"))
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(convert(sp), f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(sp), f, ensure_ascii=False, indent=2)
    with open(os.path.join(spm_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected(sp), f, ensure_ascii=False, separators=(",", ":"))
    print(f"{sp.get_piece_size()} pieces")


main()
