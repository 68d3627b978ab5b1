"""Runs llama.cpp's convert_hf_to_gguf.py under Debian 12's Python packages.

    usage: python3 run_converter.py LLAMA_CPP_DIR [convert_hf_to_gguf.py arguments...]

Debian 12 ships torch 1.13 and no transformers. The converter names the float8 dtypes (torch >= 2.1) in its dtype
tables at import time and imports transformers.AutoConfig, though a bf16 Jamba checkpoint with a SentencePiece
tokenizer needs neither. So this launcher gives torch stand-ins for the missing dtype names, which fail loudly if a
checkpoint ever holds such a tensor, puts pyshim/ (a transformers whose AutoConfig declines, so the converter reads
config.json) and the tree's own gguf-py on the path, and runs the converter as __main__.
"""

import runpy
import sys
from pathlib import Path

import torch

llama_cpp = Path(sys.argv[1]).resolve()
for name in ("float8_e4m3fn", "float8_e5m2"):
    if not hasattr(torch, name):
        setattr(torch, name, f"torch.{name} (not in torch {torch.__version__})")

sys.path[:0] = [str(Path(__file__).resolve().parent / "pyshim"), str(llama_cpp / "gguf-py"), str(llama_cpp)]
script = llama_cpp / "convert_hf_to_gguf.py"
sys.argv = [str(script)] + sys.argv[2:]
runpy.run_path(str(script), run_name="__main__")
