"""End-to-end scale benchmark of the CLIs as users type them: encode, then search.faiss, on an MS MARCO-sized corpus.

    python scripts/bench_scale.py --model DIR --work DIR [--docs 8841823] [--corpus FILE] [--table FILE]
        [--queries msmarco-passage-dev-subset] [--hits 1000] [--encode-flags="--bf16 ..."] [--search-flags="..."]

Without ``--corpus``, makes the synthetic corpus of issue 24 in ``--work``: ``--docs`` passages (ids 0..N-1, as
MS MARCO's), each 1-3 sentences drawn at random (seed 0) from the SciFact abstracts, no title. The queries are
MS MARCO's 6,980 dev queries (their answers are not in this corpus: only speed is measured). Each command runs as a
subprocess; its wall time, peak RSS (os.wait4) and the disk of what it wrote are measured here, and the time inside
its hot loop is read from its own last stderr line, so the time outside the loop is shown apart. Share of the
ceiling: the encoder's FLOPs over the real token counts of a 20,000-passage sample (scripts/bench_encode.py's count)
against the GPU's bf16 peak (798 TFLOP/s on an H200), so padding is not counted as work.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

PEAK_TFLOPS = {"H200": 798.0, "H100": 798.0}  # dense bf16, without sparsity


def scifact_sentences(path: str) -> list[str]:
    sentences = []
    with open(path) as f:
        for line in f:
            text = json.loads(line)["text"]
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]
    return sentences


def make_corpus(path: str, docs: int, sentences: list[str]) -> None:
    """``docs`` passages of 1-3 random sentences (seed 0), BEIR corpus.jsonl, written once and reused."""
    if os.path.isfile(path) and os.path.isfile(path + ".done"):
        return
    rng = random.Random(0)
    n = len(sentences)
    with open(path, "w") as f:
        block = []
        for i in range(docs):
            k = rng.randint(1, 3)
            text = " ".join(sentences[rng.randrange(n)] for _ in range(k))
            block.append(json.dumps({"_id": str(i), "title": "", "text": text}))
            if len(block) == 100_000:
                f.write("\n".join(block) + "\n")
                block = []
        if block:
            f.write("\n".join(block) + "\n")
    open(path + ".done", "w").close()


def token_lengths(model: str, corpus: str, sample: int = 20_000, max_length: int = 256) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    texts = []
    with open(corpus) as f:
        for line in f:
            doc = json.loads(line)
            texts.append((doc.get("title", "") + " " + doc["text"]).strip())
            if len(texts) == sample:
                break
    return [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]


def disk_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total if os.path.isdir(path) else (os.path.getsize(path) if os.path.exists(path) else 0)


def timed(argv: list[str], log: str) -> dict:
    """Run ``argv``; wall seconds, peak RSS (GiB) of the process, its last stderr line."""
    started = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    last = [line for line in open(log).read().splitlines() if line.strip()]
    if code != 0:
        raise SystemExit(f"{shlex.join(argv)} failed ({code}):\n" + "\n".join(last[-20:]))
    return {"wall": wall, "rss_gib": usage.ru_maxrss / 2**20, "last": last[-1] if last else ""}


def gpu_name() -> str:
    try:
        import torch
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True, help="folder for the corpus, the index and the run")
    parser.add_argument("--docs", type=int, default=8_841_823)
    parser.add_argument("--corpus", help="a real corpus.jsonl instead of the synthetic one")
    parser.add_argument("--queries", default="msmarco-passage-dev-subset")
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--encode-flags", default="")
    parser.add_argument("--search-flags", default="")
    parser.add_argument("--steps", default="encode,search", help="comma-separated: make (the corpus only), encode, "
                        "search (reuses the index in --work)")
    parser.add_argument("--label", default="", help="appended to each row's command, e.g. the code version")
    parser.add_argument("--table", help="append the table (markdown) to this file")
    args = parser.parse_args()

    from bench_encode import flops_per_doc
    from transformers import AutoConfig

    os.makedirs(args.work, exist_ok=True)
    py = sys.executable
    corpus = args.corpus
    made = 0.0
    if corpus is None:
        corpus = os.path.join(args.work, f"synthetic-{args.docs}.jsonl")
        started = time.perf_counter()
        data = os.environ.get("PYSERINI_DR_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
        make_corpus(corpus, args.docs, scifact_sentences(os.path.join(data, "scifact", "corpus.jsonl")))
        made = time.perf_counter() - started
    steps = set(args.steps.split(","))
    if steps == {"make"}:
        print(f"made {corpus} in {made:.0f} s")
        return
    with open(corpus) as f:
        docs = sum(1 for _ in f)
    lengths = token_lengths(args.model, corpus)
    flops = flops_per_doc(AutoConfig.from_pretrained(args.model), lengths)
    device = gpu_name()
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in device), None)

    index = os.path.join(args.work, "index")
    run = os.path.join(args.work, "run.msmarco.txt")
    rows = []
    if "encode" in steps:
        subprocess.run(["rm", "-rf", index], check=True)
        enc = timed([py, "-m", "pyserini_dr.encode", "--corpus", corpus, "--encoder", args.model, "--output", index,
                     *shlex.split(args.encode_flags)], os.path.join(args.work, "encode.log"))
        loop = float(re.search(r" in ([\d.]+)s", enc["last"]).group(1))
        rate = docs / loop
        share = f"{100 * rate * flops / (peak * 1e12):.1f}%" if peak else ""
        rows.append((f"encode {args.encode_flags} {args.label}".strip(), f"{enc['wall']:.1f}", f"{loop:.1f}", f"{enc['wall'] - loop:.1f}",
                     f"{rate:,.0f} docs/s", share, f"{enc['rss_gib']:.1f}", f"{disk_bytes(index) / 2**30:.2f}"))
    if "search" not in steps:
        return report(args, rows, docs, made, lengths, flops, device, 0)
    srch = timed([py, "-m", "pyserini_dr.search.faiss", "--index", index, "--topics", args.queries, "--output", run,
                  "--hits", str(args.hits), "--output-format", "msmarco", *shlex.split(args.search_flags)],
                 os.path.join(args.work, "search.log"))
    with open(run) as f:
        queries = len({line.split("\t", 1)[0] for line in f})
    inside = float(re.search(r" in ([\d.]+)s", srch["last"]).group(1))
    rows.append((f"search.faiss {args.search_flags} {args.label}".strip(), f"{srch['wall']:.1f}", f"{inside:.1f}",
                 f"{srch['wall'] - inside:.1f}", f"{queries / srch['wall']:,.0f} queries/s (wall)", "",
                 f"{srch['rss_gib']:.1f}", f"{disk_bytes(run) / 2**30:.2f}"))
    report(args, rows, docs, made, lengths, flops, device, queries)


def report(args, rows, docs, made, lengths, flops, device, queries) -> None:
    head = (f"## {time.strftime('%Y-%m-%d')} {device}, {os.cpu_count()} cores: {docs:,} passages "
            f"({'synthetic, made in %.0f s' % made if args.corpus is None else args.corpus}), mean "
            f"{sum(lengths) / len(lengths):.1f} tokens, {flops / 1e9:.2f} GFLOP/passage; {queries:,} queries, top "
            f"{args.hits}\n\n`python scripts/bench_scale.py {shlex.join(sys.argv[1:])}`\n\n"
            "| command | wall s | in its loop s | outside s | rate | share of bf16 peak | peak RSS GiB | disk GiB |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    table = head + "".join("| " + " | ".join(row) + " |\n" for row in rows)
    print(table)
    if args.table:
        with open(args.table, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
