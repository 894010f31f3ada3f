"""A tiny BLEURT (bleurt-pytorch layout) with random weights, built offline.

For tests and for users without the hub: it exercises the BLEURT code path (tokenizer, model, scores per
sentence) but its numbers mean nothing. A word-piece vocabulary of the sample's words and the letters, one layer of
width 16. Configs name it `evaluate.bleurt_checkpoint: tiny-bleurt`; evaluate builds it into the cache on first use.
"""

from __future__ import annotations

import string
from pathlib import Path

TINY_NAME = "tiny-bleurt"
VERSION = 1  # bump when what build() writes changes: the cache folder is named after it


def build(out: Path, seed: int = 0) -> Path:
    import torch
    from bleurt_pytorch import BleurtConfig, BleurtForSequenceClassification
    from bleurt_pytorch.bleurt.tokenization_bleurt_fast import BleurtTokenizerFast

    from pipeline.stages.sample_data import SIGNS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    letters = sorted(set(string.ascii_lowercase) | set("äöüß"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *SIGNS, *letters, *(f"##{c}" for c in letters)]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BleurtTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    config = BleurtConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    BleurtForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
