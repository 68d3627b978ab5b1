"""Stand-in for the `transformers` package when running llama.cpp's convert_hf_to_gguf.py on Debian 12.

Debian 12 packages torch, numpy and sentencepiece but not transformers, and the converter imports
`transformers.AutoConfig` at module load. For a Jamba checkpoint with a SentencePiece tokenizer.model it needs
nothing else from transformers: when AutoConfig.from_pretrained raises, the converter reads config.json itself.
"""


class AutoConfig:
    """Always declines, so that the converter falls back to reading config.json."""

    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise OSError("transformers is not installed (Debian 12 stand-in); read config.json instead")
