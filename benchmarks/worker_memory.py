"""A Python worker's memory with distilbart-mnli-12-1's shape: the peak (VmHWM) of a process that
does what a Spark Python worker does for the NLI strategy (imports what the pandas UDF imports,
loads the model through the workers' own loader in a precision, classifies at the default batch
settings), per engine x precision x number of labels, with each engine's import baseline apart.

    python benchmarks/worker_memory.py                 # distilbart's shape, 24 AG News rows
    python benchmarks/worker_memory.py --cap-mb 1024   # each worker under a real 1 GB memory cap
    python benchmarks/worker_memory.py --smoke         # a tiny model: checks the harness
    python benchmarks/worker_memory.py --engines onnx --token-budget 4096   # one engine, other batches

Each measurement is a fresh process, the weights file dropped from the page cache first, so that
none inherits another's pages. With --cap-mb, each runs inside a memory cgroup of that size (cgroup
v2 where the unified hierarchy has the memory controller, else v1; as root): the cgroup's own
peak is reported beside VmHWM, and a worker the kernel kills for memory is reported as killed,
as Databricks serverless fails a UDF past its 1 GB. Engines: `torch`, and `onnx` (ONNX Runtime
on the model converted as the driver converts it, outside the measured process). Writes benchmarks/results/worker_memory.json and worker_memory.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spark_zsc.testing import MemoryCgroup, NoMemoryCgroup  # noqa: E402

from run import benchmark_arguments, benchmark_model, onnx_folder, read_corpus, write_results  # noqa: E402

ENGINES = ("torch", "onnx")
PRECISIONS = ("fp32", "int8")
LABEL_COUNTS = (4, 20)
# AG News' four classes, then more topics a warehouse might add
TWENTY_LABELS = [
    "World", "Sports", "Business", "Sci/Tech", "politics", "health", "travel", "food", "music",
    "film", "weather", "crime", "education", "energy", "finance", "science", "technology",
    "religion", "fashion", "cars",
]  # fmt: skip


def peak_mb() -> float:
    """This process's peak resident set (VmHWM): file-backed pages it mapped count too."""
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return kb / 1024


def measure(spec: dict) -> dict:
    """Run in the measured process: the imports a worker on `spec['engine']` makes (the import
    baseline), then, unless spec['baseline'], the model loaded as a worker loads it and
    `spec['rows']` texts classified against `spec['labels']` labels."""
    import numpy  # noqa: F401  what every pandas UDF's worker imports
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    from spark_zsc.options import default_token_budget
    from spark_zsc.runtime import worker

    if spec["engine"] == "onnx":
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    else:
        import torch
        import transformers  # noqa: F401

        from spark_zsc.engines.nli import ZeroShotEngine
    report = {"import_peak_mb": peak_mb()}
    if spec.get("baseline"):
        return report
    token_budget = spec["token_budget"] or default_token_budget(spec["engine"], "cpu")
    if spec["engine"] == "onnx":
        model = worker.OnnxModel.load(Path(spec["model"]), threads=2)
        report["loaded_peak_mb"] = peak_mb()
        engine = worker.OnnxZeroShotEngine(model, token_budget=token_budget)
    else:
        torch.set_num_threads(2)
        loaded = worker.load_model(Path(spec["model"]), worker.NLI, "cpu", spec["precision"])
        report["loaded_peak_mb"] = peak_mb()
        engine = ZeroShotEngine(loaded.model, loaded.tokenizer, token_budget=token_budget, device="cpu")
    texts = read_corpus(spec["rows"], 0.0, data=spec["data"] and Path(spec["data"]))
    labels = TWENTY_LABELS[: spec["labels"]]
    started = time.perf_counter()
    results, _ = engine.classify(texts, [labels] * len(texts))
    report["seconds"] = time.perf_counter() - started
    report["classified"] = sum(result is not None for result in results)
    report["peak_mb"] = peak_mb()
    return report


def drop_from_page_cache(path: Path) -> None:
    """The file's pages out of the page cache, so that the next process reads (and is charged
    for) them itself."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def in_a_fresh_process(spec: dict, cap_mb: int | None) -> dict:
    """`measure(spec)` in a new interpreter, inside a memory cgroup of `cap_mb` where given."""
    for weights in ("model.safetensors", "model.onnx.data"):
        if (Path(spec["model"]) / weights).exists():
            drop_from_page_cache(Path(spec["model"]) / weights)
    try:
        cgroup = MemoryCgroup(f"spark_zsc_worker_memory_{os.getpid()}", cap_mb) if cap_mb else None
    except NoMemoryCgroup as error:
        raise SystemExit(f"--cap-mb: {error}") from None
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--measure", json.dumps(spec)],
            capture_output=True,
            text=True,
            preexec_fn=cgroup.enter if cgroup else None,
        )
        if done.returncode == 0:
            report = json.loads(done.stdout.strip().splitlines()[-1])
        elif done.returncode == -9:
            report = {"killed": "SIGKILL (the kernel's OOM killer, under the cap)"}
        else:
            report = {"error": (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1]}
        if cgroup:
            report["cgroup_peak_mb"] = cgroup.peak_mb()
        return report
    finally:
        if cgroup:
            cgroup.remove()


def report_table(results: dict) -> str:
    cap = results["cap_mb"]
    budget = results["token_budget"]
    batches = f"{budget} tokens per batch" if budget else "default batch settings"
    lines = [
        f"Worker memory, {results['model']}, {results['rows']} rows, {batches}"
        + (f", each worker under a {cap} MB memory cgroup" if cap else ""),
        "",
        "| engine | precision | labels | peak (VmHWM) MB | cgroup peak MB | seconds | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for engine, baseline in results["import_baselines"].items():
        lines.append(
            f"| {engine}: imports only | | | {baseline.get('import_peak_mb', 0):.0f} | "
            f"{baseline.get('cgroup_peak_mb', 0):.0f} | | {_outcome(baseline)} |"
        )
    for row in results["runs"]:
        lines.append(
            f"| {row['engine']} | {row['precision']} | {row['labels']} | {row.get('peak_mb', 0):.0f} | "
            f"{row.get('cgroup_peak_mb', 0):.0f} | {row.get('seconds', 0):.1f} | {_outcome(row)} |"
        )
    return "\n".join(lines)


def _outcome(row: dict) -> str:
    if "killed" in row:
        return "killed: " + row["killed"]
    if "error" in row:
        return "failed: " + row["error"]
    return "ok" + (f", {row['classified']} classified" if "classified" in row else "")


def main(argv=None) -> dict:
    parser = benchmark_arguments(__doc__)
    parser.add_argument("--cap-mb", type=int, default=None, help="run each worker in a memory cgroup")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument(
        "--token-budget", type=int, default=0, help="tokens per forward batch; 0: each engine's default"
    )
    parser.set_defaults(rows=24)
    args = parser.parse_args(argv)
    folder = benchmark_model(args)
    rows = 6 if args.smoke else args.rows
    data = str(args.data) if args.data else None
    base = {"model": str(folder), "rows": rows, "data": data, "token_budget": args.token_budget}
    results = {
        "model": "tiny random BART" if args.smoke else "random weights, distilbart-mnli-12-1 shape",
        "rows": rows,
        "cap_mb": args.cap_mb,
        "token_budget": args.token_budget,  # 0: each engine's default
        "import_baselines": {
            engine: in_a_fresh_process({**base, "engine": engine, "baseline": True}, args.cap_mb)
            for engine in args.engines
        },
        "runs": [],
    }
    for engine in args.engines:
        for precision in PRECISIONS:
            model = str(onnx_folder(folder, precision) if engine == "onnx" else folder)
            for labels in LABEL_COUNTS:
                spec = {**base, "model": model, "engine": engine, "precision": precision, "labels": labels}
                run = in_a_fresh_process(spec, args.cap_mb)
                results["runs"].append({"engine": engine, "precision": precision, "labels": labels, **run})
    name = "worker_memory" + ("-smoke" if args.smoke else "") + (f"-cap{args.cap_mb}" if args.cap_mb else "")
    name += f"-budget{args.token_budget}" if args.token_budget else ""
    write_results(Path(args.out), name, results, report_table(results))
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(json.loads(sys.argv[2]))))
    else:
        main()
