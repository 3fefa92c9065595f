"""Random-weight models built offline, for tests, benchmarks and demos.

Nothing here downloads anything: a tokenizer is trained with the `tokenizers` library
on the sentences given (byte-level BPE for the BART NLI model, WordPiece for the BERT
sentence encoder) and the weights are initialised from a seed. Their scores are
meaningless, but they run exactly the code (and, at full shape, exactly the
arithmetic) of real ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

# The shape of valhalla/distilbart-mnli-12-1 (its config.json), and its vocabulary's size.
DISTILBART_VOCABULARY = 50265
DISTILBART_MNLI_12_1_SHAPE = dict(
    d_model=1024,
    encoder_layers=12,
    decoder_layers=1,
    encoder_attention_heads=16,
    decoder_attention_heads=16,
    encoder_ffn_dim=4096,
    decoder_ffn_dim=4096,
    max_position_embeddings=1024,
)

TINY_SHAPE = dict(
    d_model=32,
    encoder_layers=2,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=128,
)

BART_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4, as in BART


def build_random_nli_model(
    folder: str | Path,
    sentences: Iterable[str],
    *,
    vocab_size: int = 1000,
    shape: dict | None = None,
    model_max_length: int | None = None,
    seed: int = 0,
    init_std: float = 0.2,
    label_names: tuple[str, str, str] = ("CONTRADICTION", "NEUTRAL", "ENTAILMENT"),
    embedding_rows: int | None = None,
) -> Path:
    """Write a random BART NLI model (safetensors) and its tokenizer into `folder`.

    `init_std` is larger than BART's 0.02 so that a tiny model gives scores that differ
    clearly between texts and labels; tests need that to tell right from wrong.
    `embedding_rows` (default: the tokenizer's vocabulary) gives the model as many token
    embeddings as a real one has (distilbart: 50,265), so that its weights weigh the same.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForSequenceClassification, BartTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shape = dict(TINY_SHAPE if shape is None else shape)
    max_length = model_max_length or shape["max_position_embeddings"]

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(sentences), vocab_size=vocab_size, min_frequency=1, special_tokens=BART_SPECIAL_TOKENS
    )
    bpe.save_model(str(folder))
    # Loaded from vocab.json + merges.txt, as the real distilbart checkpoints are.
    tokenizer = BartTokenizer.from_pretrained(folder, model_max_length=max_length)
    tokenizer.save_pretrained(folder)

    config = BartConfig(
        vocab_size=embedding_rows or bpe.get_vocab_size(),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        scale_embedding=False,
        activation_function="gelu",
        init_std=init_std,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        classifier_dropout=0.0,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
        **shape,
    )
    torch.manual_seed(seed)
    model = BartForSequenceClassification(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def build_random_sentence_encoder(
    folder: str | Path,
    sentences: Iterable[str],
    *,
    vocab_size: int = 500,
    seed: int = 0,
    max_seq_length: int = 64,
    pooling: str = "mean_tokens",
) -> Path:
    """Write a random BERT sentence encoder in sentence-transformers' layout (like
    all-MiniLM-L6-v2: modules.json, sentence_bert_config.json, 1_Pooling/config.json)."""
    import json

    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast  # type: ignore[attr-defined]

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(list(sentences), vocab_size=vocab_size, min_frequency=1)
    wordpiece.save_model(str(folder))
    BertTokenizerFast.from_pretrained(folder, model_max_length=128).save_pretrained(folder)
    config = BertConfig(
        vocab_size=wordpiece.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": 32,
                **{
                    f"pooling_mode_{mode}": mode == pooling
                    for mode in ("cls_token", "mean_tokens", "max_tokens")
                },
            }
        )
    )
    return folder


DEMO_SENTENCES = [
    "I was charged twice for my subscription this month.",
    "The website is down and nobody can log in.",
    "Please add an export to PDF to the dashboard.",
    "The team won the final after a late goal.",
    "The central bank raised interest rates again.",
    "A new phone was launched with a faster chip.",
    "This example is billing. This example is an outage. This example is a feature request.",
]


def main(argv=None) -> None:
    """`python -m spark_zsc.testing FOLDER`: a tiny random NLI model for offline demos and
    smoke tests (its labels are meaningless; use a real model for real work)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m spark_zsc.testing", description=main.__doc__)
    parser.add_argument("folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_random_nli_model(args.folder, DEMO_SENTENCES * 3, vocab_size=600, seed=args.seed))


if __name__ == "__main__":
    main()


class NoMemoryCgroup(RuntimeError):
    """No memory cgroup can be made here."""


class MemoryCgroup:
    """A memory cgroup of `megabytes`, for processes moved into it: v2 where the unified
    hierarchy has the memory controller, else v1. Made as root; removed by `remove`, once
    every process in it has exited."""

    def __init__(self, name: str, megabytes: int):
        limit = str(megabytes * 2**20)
        v2 = Path("/sys/fs/cgroup")
        if "memory" in _read(v2 / "cgroup.controllers").split():
            self.folder, self.peak_file = v2 / name, "memory.peak"
            self.folder.mkdir()
            (self.folder / "memory.max").write_text(limit)
            (self.folder / "memory.swap.max").write_text("0")
        elif Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
            self.folder, self.peak_file = Path("/sys/fs/cgroup/memory") / name, "memory.max_usage_in_bytes"
            self.folder.mkdir()
            (self.folder / "memory.limit_in_bytes").write_text(limit)
        else:
            raise NoMemoryCgroup(
                "a memory cap needs a memory cgroup: Linux with cgroup v2's memory controller, or v1's "
                "/sys/fs/cgroup/memory, and root to make one"
            )

    @property
    def procs(self) -> Path:
        """The file a process's id is written to, to move that process in."""
        return self.folder / "cgroup.procs"

    def enter(self) -> None:
        """Move the calling process in (a child's preexec_fn: before it imports anything)."""
        self.procs.write_text(str(os.getpid()))

    def peak_mb(self) -> float:
        return int(_read(self.folder / self.peak_file) or 0) / 2**20

    def remove(self) -> None:
        self.folder.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
