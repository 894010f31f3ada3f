"""A tiny M2M-100 + tokenizer, built offline, for the demo and tests.

d_model 32, one encoder and one decoder layer, weights drawn with std 0.15 (see INIT_STD), dropout 0.1 (see
DROPOUT), no layer drop, a word-level sentencepiece vocabulary of the sample's sign words and some German, plus
M2M-100's language tokens (`__de__` ...) marked special as in `facebook/m2m100_418M` (decoded text carries no
language code), saved with `save_pretrained` so MultimodalHugs loads it like `facebook/m2m100_418M`. Seeded: the
same content every time. Runs in the trainer image. Configs name it `model.pretrained_backbone: tiny-m2m100`;
the train stage builds it into the cache on first use.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

TINY_NAME = "tiny-m2m100"
VERSION = 5  # bump when what build() writes changes: the cache folder is named after it
# M2M-100's default init_std 0.02 suits its 1024-wide layers; at d_model 32 it leaves every projection near zero,
# attention uniform and the token embeddings far below the positional ones at the start. 0.15 (about 1/sqrt(d_model))
# starts the tiny model where a small one should.
INIT_STD = 0.15
# Without dropout the tiny model can memorise the demo's 120 training sentences (training loss 0.00 by step 1500)
# before it learns the signs, and on some seeds and thread counts generalises late: seed 2 with two torch threads
# reached validation BLEU 50 only at step 2500 (test BLEU 34.4). With dropout 0.1 the same run reached it at step
# 1000 (test BLEU 96.3); AMD EPYC, 2 cores. benchmarks/learnability.py measures it over seeds (README: Results).
DROPOUT = 0.1
EXTRA_TEXT = [  # more German so the tokenizer covers words the sample sentences lack
    "guten abend liebe zuschauer",
    "und nun die wettervorhersage für morgen",
    "es gibt regen und sonne",
    "im süden und osten bleibt es trocken",
    "die temperaturen liegen zwischen zehn und zwanzig grad",
    "der wind kommt aus nordwest",
    "am montag wechselhaft mit schauern",
    "auch in der nacht frost",
]


def build(out: Path, seed: int = 0) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    from pipeline.stages.sample_data import SIGNS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join([" ".join(SIGNS)] * 20 + EXTRA_TEXT) + "\n")
        # word-level: every sign word is one token (a tiny model need not learn to spell)
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(out / "spm"),
            vocab_size=100,
            hard_vocab_limit=False,
            character_coverage=1.0,
            model_type="word",
            bos_id=0,
            pad_id=1,
            eos_id=2,
            unk_id=3,
            minloglevel=2,
            num_threads=1,
        )
    proc = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(proc.get_piece_size()):
        vocab.setdefault(proc.id_to_piece(i), len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    # the language tokens are special, as in facebook/m2m100_418M, so decoding drops them ("__de__" is no word)
    languages = [f"__{code}__" for code in FAIRSEQ_LANGUAGE_CODES["m2m100"]]
    tokenizer = M2M100Tokenizer(
        vocab_file=str(out / "vocab.json"),
        spm_file=str(out / "spm.model"),
        src_lang="de",
        tgt_lang="de",
        clean_up_tokenization_spaces=True,
        additional_special_tokens=languages,
    )
    torch.manual_seed(seed)
    ids = list(tokenizer.get_vocab().values()) + list(tokenizer.lang_token_to_id.values())
    config = M2M100Config(
        vocab_size=max(ids) + 1,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        dropout=DROPOUT,
        attention_dropout=0.0,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        scale_embedding=True,
        init_std=INIT_STD,
    )
    model = M2M100ForConditionalGeneration(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # copies spm.model to sentencepiece.bpe.model
    for scratch in ("spm.model", "spm.vocab"):
        (out / scratch).unlink()
    return out
