"""Copies a float32 checkpoint's config.json and model.safetensors into a release folder with bfloat16 weights.

    python3 models/jamba-tiny-stories/recipe/to_bf16.py CHECKPOINT_DIR RELEASE_DIR

Standard library only. bfloat16 is the upper half of a float32, rounded to nearest even as torch's .to(torch.bfloat16)
does; the tensors keep their names, shapes and order, and config.json gets "torch_dtype": "bfloat16".
"""
import json
import os
import struct
import sys
from array import array


def to_bf16(raw):
    words = array("I")
    words.frombytes(raw)
    if sys.byteorder != "little":
        words.byteswap()
    out = array("H", ((w + 0x7FFF + ((w >> 16) & 1)) >> 16 for w in words))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            raw, dtype = to_bf16(raw), "BF16"
        else:
            dtype = info["dtype"]
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if meta is not None:
        out_header = {"__metadata__": meta, **out_header}
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["torch_dtype"] = "bfloat16"
    with open(os.path.join(dst, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


main()
