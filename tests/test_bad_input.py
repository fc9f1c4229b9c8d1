"""Every command under bad input and faults (issue 22): exit code 2, exactly one ``error:`` line, no traceback, and
every file that existed before byte-identical after (nor any file left behind).

Each case calls a command's ``main(argv)`` in this process through ``cli.run_main`` (no subprocess: the module runs
in seconds). The world they run in is built once: a tiny corpus, a tiny BERT (32 dimensions, 64 positions) and its
dense index, an index in Pyserini's own layout (``index`` + ``docid``, no meta.json), broken indexes and models, a
BM25 Lucene index (where Java is available), and malformed runs, qrels, topics and corpora.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ENCODE = "pyserini_dr.encode.__main__"
ENCODE_QUERY = "pyserini_dr.encode.query"
INDEX_FAISS = "pyserini_dr.index.faiss.__main__"
INDEX_LUCENE = "pyserini_dr.index.lucene.__main__"
INDEX_INFO = "pyserini_dr.index.info"
SEARCH_LUCENE = "pyserini_dr.search.lucene.__main__"
SEARCH_FAISS = "pyserini_dr.search.faiss.__main__"
HYBRID = "pyserini_dr.search.hybrid.__main__"
TUNE = "pyserini_dr.search.hybrid.tune"
FUSION = "pyserini_dr.fusion"
TREC_EVAL = "pyserini_dr.eval.trec_eval"
MSMARCO = "pyserini_dr.eval.msmarco"
TREC_DL = "pyserini_dr.eval.trec_dl"
BEIR = "pyserini_dr.eval.beir"
SUBMISSION = "pyserini_dr.eval.msmarco_submission"
REPRODUCE = "pyserini_dr.eval.reproduce"
RERANK = "pyserini_dr.rerank.__main__"
PREBUILT = "pyserini_dr.prebuilt.__main__"
TRAIN = "pyserini_dr.train.__main__"
NEGATIVES = "pyserini_dr.train.negatives"
CLUSTERS = "pyserini_dr.train.clusters"
MIX = "pyserini_dr.train.mix"
SOUP = "pyserini_dr.train.soup"
PSEUDO_LABELS = "pyserini_dr.train.pseudo_labels"
PSEUDO_QUERIES = "pyserini_dr.train.pseudo_queries"
HYBRID_TEACHER = "pyserini_dr.train.hybrid_teacher"

WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "honey", "kiwi", "lemon", "mango", "olive"]
DOCS = [{"_id": f"d{i}", "title": WORDS[i], "text": " ".join(WORDS[i:i + 4])} for i in range(8)]


# ---- helpers ----------------------------------------------------------------------------------------------------

def snapshot(*roots) -> dict[str, bytes]:
    """Every file under ``roots``: its path and its bytes."""
    files = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    with open(path, "rb") as f:
                        files[path] = f.read()
    return files


def assert_unchanged(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert not changed, f"damaged or removed: {changed}"
    left = sorted(set(after) - set(before))
    assert not left, f"left behind: {left}"


def call(module: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``run_main(module.main, argv)`` in this process."""
    from pyserini_dr.cli import run_main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_main(importlib.import_module(module).main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def refused(module: str, argv: list[str], capsys, *roots) -> str:
    """Run a command that must refuse: exit 2, one ``error:`` line, no traceback, ``roots`` untouched. The line."""
    before = snapshot(*roots)
    code, out, err = call(module, argv, capsys)
    assert "Traceback" not in err + out, err
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert_unchanged(before, snapshot(*roots))
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def tiny_bert(path: Path, hidden: int = 32, positions: int = 64) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "dimension", "probe",
                                               *WORDS]))
    tok = BertTokenizerFast(str(path / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=2 * hidden, max_position_embeddings=positions)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


# ---- the world the cases run in -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    faiss = pytest.importorskip("faiss")
    import numpy as np

    from pyserini_dr.encode import DenseEncoder
    from pyserini_dr.encode.corpus import CorpusEncoder

    w = tmp_path_factory.mktemp("world")
    write(w / "corpus.jsonl", jsonl(DOCS))
    write(w / "topics.tsv", "q1\tapple banana\nq2\tcherry date\n")
    write(w / "topics3.tsv", "q1\tapple banana\nq2\tcherry date\nq3\tfig grape\n")
    write(w / "qrels.txt", "q1 0 d0 1\nq2 0 d2 2\n")
    write(w / "run.txt", "q1 Q0 d0 1 3.0 t\nq1 Q0 d1 2 2.0 t\nq2 Q0 d2 1 3.0 t\nq2 Q0 d3 2 1.0 t\n")
    write(w / "groups.jsonl", jsonl([{"query_id": "q1", "query_text": "apple", "positive_document_ids": ["d0"],
                                      "negative_document_ids": ["d1"]}]))
    model = tiny_bert(w / "model")
    tiny_bert(w / "model16", hidden=16)

    encoder = DenseEncoder(str(model), device="cpu", dtype="float32")
    CorpusEncoder(encoder).encode(str(w / "corpus.jsonl"), str(w / "dense"))
    meta = json.loads((w / "dense" / "meta.json").read_text())
    docids = (w / "dense" / "docid").read_text().split()

    (w / "pyserini").mkdir()  # Pyserini's own layout: index + docid, no meta.json
    for name in ("index", "docid"):
        shutil.copy(w / "dense" / name, w / "pyserini" / name)

    shutil.copytree(w / "dense", w / "nan-dense")  # vectors a broken model gave (nan), written by hand: we refuse
    nan = np.full((len(docids), meta["dimension"]), np.nan, dtype=np.float32)
    flat = faiss.IndexFlatIP(meta["dimension"])
    flat.add(nan)
    faiss.write_index(flat, str(w / "nan-dense" / "index"))
    write(w / "nan-dense" / "meta.json", json.dumps({**meta, "checksum": "sha256:" + hashlib.sha256(
        nan.tobytes()).hexdigest()}))

    shutil.copytree(w / "dense", w / "short-dense")  # one docid fewer than vectors
    write(w / "short-dense" / "docid", "".join(d + "\n" for d in docids[:-1]))

    shutil.copytree(model, w / "model-truncated")
    weights = w / "model-truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    write(w / "not-a-model" / "readme.txt", "no config here\n")

    bad = w / "bad"
    write(bad / "run-dup.txt", "q1 Q0 d0 1 3.0 t\nq1 Q0 d0 2 2.0 t\n")
    write(bad / "run-nan.txt", "q1 Q0 d0 1 nan t\nq1 Q0 d1 2 2.0 t\n")
    write(bad / "run-5col.txt", "q1 Q0 d0 1 3.0 t\nq1 Q0 d1 2 2.0\n")
    write(bad / "run-empty.txt", "")
    write(bad / "run-msmarco-rank0.tsv", "q1\td0\t0\n")
    write(bad / "run-unknown-doc.txt", "q1 Q0 nosuchdoc 1 3.0 t\n")
    write(bad / "run-q3.txt", "q1 Q0 d0 1 3.0 t\nq3 Q0 d5 1 3.0 t\n")
    write(bad / "qrels-nograde.txt", "q1 0 d0 1\nq2 0 d2\n")
    write(bad / "qrels-inf.txt", "q1 0 d0 1\nq2 0 d2 inf\n")
    write(bad / "qrels-fraction.txt", "q1 0 d0 1\nq2 0 d2 0.5\n")
    write(bad / "qrels-conflict.txt", "q1 0 d0 1\nq1 0 d0 0\n")
    write(bad / "qrels-empty.txt", "")
    write(bad / "corpus-dup.jsonl", jsonl(DOCS + [DOCS[0]]))
    write(bad / "corpus-json.jsonl", jsonl(DOCS[:2]) + '{"_id": "x" "text": "y"}\n')
    write(bad / "corpus-empty.jsonl", "")
    (bad / "corpus-latin1.jsonl").write_bytes(jsonl(DOCS[:2]).encode() + '{"_id": "caf\xe9"}\n'.encode("latin-1"))
    write(bad / "corpus-spaced-id.jsonl", jsonl(DOCS[:2] + [{"_id": "d 9", "text": "fig"}]))
    write(bad / "corpus-newline-id.jsonl", jsonl(DOCS[:2] + [{"_id": "d\n9", "text": "fig"}]))
    write(bad / "corpus-list-text.jsonl", jsonl(DOCS[:2] + [{"_id": "d9", "text": ["fig"]}]))
    packed = gzip.compress(jsonl([{"_id": f"g{i}", "text": "apple " * 40} for i in range(300)]).encode())
    (bad / "corpus-truncated.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    (bad / "corpus-not-gzip.jsonl.gz").write_bytes(jsonl(DOCS).encode())
    write(bad / "topics-spaced-id.tsv", "q1\tapple\nq 2\tbanana\n")
    write(bad / "topics-notab.tsv", "q1\tapple\nq2 no tab\n")
    write(bad / "topics-dup.tsv", "q1\tapple\nq1\tbanana\n")
    write(bad / "topics-empty.tsv", "")
    write(bad / "groups-bad.jsonl", '{"query_id": "q1"}\n')
    write(bad / "matrix.yaml", "conditions: [unclosed\n")
    write(bad / "matrix-list.yaml", "- a\n- b\n")
    write(bad / "matrix-key.yaml", "name: x\nconditions:\n  - name: a\n    steps: [echo hi]\n")
    write(bad / "submission-ids.tsv", "1\tabc\t1\n")
    write(bad / "submission-rank0.tsv", "1\t7\t0\n")
    write(bad / "submission-dup.tsv", "1\t7\t1\n1\t7\t2\n")
    write(bad / "submission-spaces.tsv", "1 7 1\n")
    write(bad / "submission-topics.tsv", "1\tthe one query\n")

    try:
        from pyserini_dr import _pyserini
        from pyserini_dr.index.lucene import LuceneIndexBuilder

        _pyserini.java_home()
        _pyserini.anserini_jar()
        LuceneIndexBuilder().build(str(w / "corpus.jsonl"), str(w / "lucene"))
    except Exception as e:  # noqa: BLE001 (Java, pyserini or Anserini's jar absent: the Lucene cases skip)
        (w / "no-lucene.txt").write_text(str(e))
    return w


# ---- one case a row: (command, argv), {w} the world, {t} the test's own folder (which holds old.txt) -------------

CASES = [
    # encode: counts, devices, models, lengths, outputs, corpora
    ("encode-batch-tokens-0", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --batch-tokens 0"),
    ("encode-chunk-size-neg", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --chunk-size -1"),
    ("encode-max-length-0", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --max-length 0"),
    ("encode-max-length-beyond-positions", ENCODE,
     "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --max-length 4096"),
    ("encode-device-cuda-no-gpu", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --device cuda"),
    ("encode-device-unknown", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --device gpu7"),
    ("encode-not-a-model", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/not-a-model --output {t}/o"),
    ("encode-truncated-weights", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model-truncated --output {t}/o"),
    ("encode-model-is-file", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/corpus.jsonl --output {t}/o"),
    ("encode-output-pyserini-layout", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {w}/pyserini"),
    ("encode-output-finished", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {w}/dense"),
    ("encode-output-is-file", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/old.txt"),
    ("encode-output-lucene", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {w}/lucene"),
    ("encode-corpus-dup", ENCODE, "--corpus {w}/bad/corpus-dup.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-json", ENCODE, "--corpus {w}/bad/corpus-json.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-empty", ENCODE, "--corpus {w}/bad/corpus-empty.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-latin1", ENCODE, "--corpus {w}/bad/corpus-latin1.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-spaced-id", ENCODE, "--corpus {w}/bad/corpus-spaced-id.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-newline-id", ENCODE, "--corpus {w}/bad/corpus-newline-id.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-list-text", ENCODE, "--corpus {w}/bad/corpus-list-text.jsonl --encoder {w}/model --output {t}/o"),
    ("encode-corpus-truncated-gzip", ENCODE,
     "--corpus {w}/bad/corpus-truncated.jsonl.gz --encoder {w}/model --output {t}/o"),
    ("encode-corpus-not-gzip", ENCODE, "--corpus {w}/bad/corpus-not-gzip.jsonl.gz --encoder {w}/model --output {t}/o"),
    ("encode-shard-num-0", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --shard-num 0"),
    ("encode-shard-out-of-range", ENCODE,
     "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --shard-id 2 --shard-num 2"),
    ("encode-hub-name-offline", ENCODE, "--corpus {w}/corpus.jsonl --encoder no-such-org/no-such-model --output {t}/o"),
    ("encode-unknown-class", ENCODE, "--corpus {w}/corpus.jsonl --encoder {w}/model --output {t}/o --encoder-class x"),
    # encode.query
    ("encode-query-batch-0", ENCODE_QUERY,
     "--topics {w}/topics.tsv --index {w}/dense --output {t}/q.tsv --batch-size 0"),
    ("encode-query-bad-ext", ENCODE_QUERY, "--topics {w}/topics.tsv --index {w}/dense --output {t}/q.xyz"),
    ("encode-query-no-index", ENCODE_QUERY, "--topics {w}/topics.tsv --index {t}/none --output {t}/q.tsv"),
    ("encode-query-bad-topics", ENCODE_QUERY, "--topics {w}/bad/topics-notab.tsv --index {w}/dense --output {t}/q.tsv"),
    ("encode-query-max-length", ENCODE_QUERY,
     "--topics {w}/topics.tsv --index {w}/dense --output {t}/q.tsv --query-max-length 4096"),
    ("encode-query-no-encoder-no-meta", ENCODE_QUERY,
     "--topics {w}/topics.tsv --index {w}/pyserini --output {t}/q.tsv"),
    ("encode-query-old-output", ENCODE_QUERY, "--topics {w}/bad/topics-dup.tsv --index {w}/dense --output {t}/old.txt"),
    # index.faiss and --merge
    ("faiss-output-pyserini-layout", INDEX_FAISS, "--input {w}/dense --output {w}/pyserini --factory HNSW8"),
    ("faiss-output-is-input", INDEX_FAISS, "--input {w}/dense --output {w}/dense --factory HNSW8"),
    ("faiss-output-finished", INDEX_FAISS, "--input {w}/dense --output {w}/short-dense --factory HNSW8"),
    ("faiss-output-lucene", INDEX_FAISS, "--input {w}/dense --output {w}/lucene --factory HNSW8"),
    ("faiss-merge-pyserini-layout", INDEX_FAISS, "--merge {w}/dense --output {w}/pyserini"),
    ("faiss-merge-duplicate-docids", INDEX_FAISS, "--merge {w}/dense {w}/dense --output {t}/m"),
    ("faiss-fewer-docids", INDEX_FAISS, "--input {w}/short-dense --output {t}/h --factory HNSW8"),
    ("faiss-merge-fewer-docids", INDEX_FAISS, "--merge {w}/short-dense --output {t}/m"),
    ("faiss-nan-vectors", INDEX_FAISS, "--input {w}/nan-dense --output {t}/h --factory HNSW8"),
    ("faiss-merge-nan-vectors", INDEX_FAISS, "--merge {w}/nan-dense --output {t}/m"),
    ("faiss-bad-factory", INDEX_FAISS, "--input {w}/dense --output {t}/h --factory Bogus99"),
    ("faiss-ivf-too-few-vectors", INDEX_FAISS, "--input {w}/dense --output {t}/h --factory IVF16,Flat"),
    ("faiss-pq-not-dividing", INDEX_FAISS, "--input {w}/dense --output {t}/h --factory PQ7"),
    ("faiss-train-size-0", INDEX_FAISS, "--input {w}/dense --output {t}/h --factory HNSW8 --train-size 0"),
    ("faiss-ef-construction-0", INDEX_FAISS, "--input {w}/dense --output {t}/h --factory HNSW8 --ef-construction 0"),
    ("faiss-no-input", INDEX_FAISS, "--input {t}/none --output {t}/h --factory HNSW8"),
    ("faiss-input-not-dense", INDEX_FAISS, "--input {w}/not-a-model --output {t}/h --factory HNSW8"),
    # index.lucene, BM25 and --dense
    ("lucene-output-pyserini-layout", INDEX_LUCENE, "--corpus {w}/corpus.jsonl --index {w}/pyserini"),
    ("lucene-corpus-empty", INDEX_LUCENE, "--corpus {w}/bad/corpus-empty.jsonl --index {t}/l"),
    ("lucene-corpus-spaced-id", INDEX_LUCENE, "--corpus {w}/bad/corpus-spaced-id.jsonl --index {t}/l"),
    ("lucene-corpus-truncated-gzip", INDEX_LUCENE, "--corpus {w}/bad/corpus-truncated.jsonl.gz --index {t}/l"),
    ("lucene-threads-0", INDEX_LUCENE, "--corpus {w}/corpus.jsonl --index {t}/l --threads 0"),
    ("lucene-dense-nan", INDEX_LUCENE, "--dense --flat --input {w}/nan-dense --index {t}/l"),
    ("lucene-dense-fewer-docids", INDEX_LUCENE, "--dense --flat --input {w}/short-dense --index {t}/l"),
    ("lucene-dense-output-pyserini", INDEX_LUCENE, "--dense --flat --input {w}/dense --index {w}/pyserini"),
    ("lucene-dense-M-0", INDEX_LUCENE, "--dense --hnsw --input {w}/dense --index {t}/l -M 0"),
    ("lucene-dense-shards-0", INDEX_LUCENE, "--dense --hnsw --input {w}/dense --index {t}/l --shards 0"),
    ("lucene-dense-no-input", INDEX_LUCENE, "--dense --flat --input {t}/none --index {t}/l"),
    # index.info
    ("info-no-index", INDEX_INFO, "{t}/none"),
    ("info-not-an-index", INDEX_INFO, "{w}/not-a-model"),
    ("info-bm25-index", INDEX_INFO, "{lucene}"),
    # search.lucene
    ("search-lucene-dense-index", SEARCH_LUCENE, "--index {w}/dense --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-lucene-hits-0", SEARCH_LUCENE, "--index {lucene} --topics {w}/topics.tsv --output {t}/r --hits 0"),
    ("search-lucene-k1-nan", SEARCH_LUCENE, "--index {lucene} --topics {w}/topics.tsv --output {t}/r --k1 nan"),
    ("search-lucene-b-above-1", SEARCH_LUCENE, "--index {lucene} --topics {w}/topics.tsv --output {t}/r --b 1.5"),
    ("search-lucene-bm25-as-dense", SEARCH_LUCENE,
     "--index {lucene} --dense --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-lucene-topics-empty", SEARCH_LUCENE, "--index {lucene} --topics {w}/bad/topics-empty.tsv --output {t}/r"),
    ("search-lucene-topics-dup", SEARCH_LUCENE, "--index {lucene} --topics {w}/bad/topics-dup.tsv --output {t}/r"),
    ("search-lucene-output-dir", SEARCH_LUCENE, "--index {lucene} --topics {w}/topics.tsv --output {w}/dense"),
    # search.faiss
    ("search-faiss-dimension-no-meta", SEARCH_FAISS,
     "--index {w}/pyserini --encoder {w}/model16 --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-faiss-dimension-no-meta-torch", SEARCH_FAISS,
     "--index {w}/pyserini --backend torch --encoder {w}/model16 --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-faiss-no-encoder-no-meta", SEARCH_FAISS, "--index {w}/pyserini --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-nan-index", SEARCH_FAISS, "--index {w}/nan-dense --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-faiss-nan-index-torch", SEARCH_FAISS,
     "--index {w}/nan-dense --backend torch --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-faiss-fewer-docids", SEARCH_FAISS, "--index {w}/short-dense --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-device-cuda", SEARCH_FAISS,
     "--index {w}/dense --topics {w}/topics.tsv --output {t}/r --device cuda"),
    ("search-faiss-query-max-length", SEARCH_FAISS,
     "--index {w}/dense --topics {w}/topics.tsv --output {t}/r --query-max-length 4096"),
    ("search-faiss-hits-0", SEARCH_FAISS, "--index {w}/dense --topics {w}/topics.tsv --output {t}/r --hits 0"),
    ("search-faiss-ef-search-0", SEARCH_FAISS,
     "--index {w}/dense --topics {w}/topics.tsv --output {t}/r --ef-search 0"),
    ("search-faiss-not-a-model", SEARCH_FAISS,
     "--index {w}/dense --encoder {w}/not-a-model --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-truncated-model", SEARCH_FAISS,
     "--index {w}/pyserini --encoder {w}/model-truncated --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-bm25-index", SEARCH_FAISS, "--index {lucene} --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-topics-dup", SEARCH_FAISS, "--index {w}/dense --topics {w}/bad/topics-dup.tsv --output {t}/old.txt"),
    ("search-faiss-topics-spaced-id", SEARCH_FAISS,
     "--index {w}/dense --topics {w}/bad/topics-spaced-id.tsv --output {t}/old.txt"),
    ("search-faiss-prebuilt-without-download", SEARCH_FAISS,
     "--index beir-v1.0.0-scifact.all-minilm-l6-v2 --topics {w}/topics.tsv --output {t}/old.txt"),
    ("search-faiss-torch-nprobe", SEARCH_FAISS,
     "--index {w}/dense --backend torch --nprobe 4 --topics {w}/topics.tsv --output {t}/r"),
    ("search-faiss-output-is-topics", SEARCH_FAISS,
     "--index {w}/dense --topics {w}/topics.tsv --output {w}/topics.tsv"),
    ("search-faiss-output-dir", SEARCH_FAISS, "--index {w}/dense --topics {w}/topics.tsv --output {w}/dense"),
    ("search-faiss-unknown-prebuilt", SEARCH_FAISS, "--index no-such-prebuilt --topics {w}/topics.tsv --output {t}/r"),
    # search.hybrid
    ("hybrid-alpha-nan", HYBRID,
     "dense --index {w}/dense sparse --index {lucene} fusion --alpha nan run --topics {w}/topics.tsv --output {t}/r"),
    ("hybrid-rrf-k-neg", HYBRID,
     "dense --index {w}/dense sparse --index {lucene} fusion --method rrf --rrf-k -1 run --topics {w}/topics.tsv "
     "--output {t}/r"),
    ("hybrid-hits-0", HYBRID,
     "dense --index {w}/dense sparse --index {lucene} run --topics {w}/topics.tsv --output {t}/r --hits 0"),
    ("hybrid-sparse-is-dense", HYBRID,
     "dense --index {w}/dense sparse --index {w}/dense run --topics {w}/topics.tsv --output {t}/old.txt"),
    ("hybrid-dense-is-bm25", HYBRID,
     "dense --index {lucene} sparse --index {lucene} run --topics {w}/topics.tsv --output {t}/old.txt"),
    ("hybrid-section-twice", HYBRID, "dense --index {w}/dense dense --index {w}/dense run --topics t --output {t}/r"),
    ("hybrid-missing-section", HYBRID, "dense --index {w}/dense run --topics {w}/topics.tsv --output {t}/r"),
    ("hybrid-nan-index", HYBRID,
     "dense --index {w}/nan-dense sparse --index {lucene} run --topics {w}/topics.tsv --output {t}/old.txt"),
    # search.hybrid.tune
    ("tune-plot-unwritable", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --tune-qrels {w}/qrels.txt "
     "--test-topics {w}/topics3.tsv --test-qrels {w}/qrels.txt --output {t}/old.txt --plot {w}/corpus.jsonl/p.png"),
    ("tune-plot-is-output", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --tune-qrels {w}/qrels.txt "
     "--test-topics {w}/topics3.tsv --test-qrels {w}/qrels.txt --output {t}/old.txt --plot {t}/old.txt"),
    ("tune-overlapping-topics", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --tune-qrels {w}/qrels.txt "
     "--test-topics {w}/topics.tsv --test-qrels {w}/qrels.txt --output {t}/old.txt"),
    ("tune-no-qrels", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --test-topics {w}/topics3.tsv "
     "--output {t}/old.txt"),
    ("tune-two-metrics", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --tune-qrels {w}/qrels.txt "
     "--test-topics {w}/topics3.tsv --test-qrels {w}/qrels.txt --output {t}/old.txt --metric map,ndcg_cut.10"),
    ("tune-hits-0", TUNE,
     "dense --index {w}/dense sparse --index {lucene} tune --tune-topics {w}/topics.tsv --tune-qrels {w}/qrels.txt "
     "--test-topics {w}/topics3.tsv --test-qrels {w}/qrels.txt --output {t}/old.txt --hits 0"),
    ("tune-missing-section", TUNE, "dense --index {w}/dense sparse --index {lucene}"),
    # fusion
    ("fusion-duplicate-docids", FUSION, "--runs {w}/run.txt {w}/bad/run-dup.txt --output {t}/old.txt"),
    ("fusion-nan-score", FUSION, "--runs {w}/run.txt {w}/bad/run-nan.txt --output {t}/old.txt"),
    ("fusion-alpha-nan", FUSION, "--runs {w}/run.txt {w}/run.txt --method interpolation --alpha nan --output {t}/r"),
    ("fusion-hits-0", FUSION, "--runs {w}/run.txt {w}/run.txt --k 0 --output {t}/r"),
    ("fusion-rrf-k-neg", FUSION, "--runs {w}/run.txt {w}/run.txt --rrf.k -1 --output {t}/r"),
    ("fusion-empty-run", FUSION, "--runs {w}/run.txt {w}/bad/run-empty.txt --output {t}/old.txt"),
    ("fusion-msmarco-rank-0", FUSION, "--runs {w}/run.txt {w}/bad/run-msmarco-rank0.tsv --output {t}/old.txt"),
    ("fusion-output-is-a-run", FUSION, "--runs {w}/run.txt {w}/bad/run-dup.txt --output {w}/run.txt"),
    ("fusion-missing-run", FUSION, "--runs {w}/run.txt {t}/none.txt --output {t}/old.txt"),
    ("fusion-output-in-file", FUSION, "--runs {w}/run.txt {w}/run.txt --output {w}/corpus.jsonl/r"),
    # eval.trec_eval
    ("trec-eval-duplicate-docids", TREC_EVAL, "-m map {w}/qrels.txt {w}/bad/run-dup.txt"),
    ("trec-eval-nan-score", TREC_EVAL, "-m map {w}/qrels.txt {w}/bad/run-nan.txt"),
    ("trec-eval-qrels-no-grade", TREC_EVAL, "-m map {w}/bad/qrels-nograde.txt {w}/run.txt"),
    ("trec-eval-qrels-inf", TREC_EVAL, "-m ndcg_cut.10 {w}/bad/qrels-inf.txt {w}/run.txt"),
    ("trec-eval-qrels-fraction", TREC_EVAL, "-m ndcg_cut.10 {w}/bad/qrels-fraction.txt {w}/run.txt"),
    ("trec-eval-qrels-conflict", TREC_EVAL, "-m ndcg_cut.10 {w}/bad/qrels-conflict.txt {w}/run.txt"),
    ("trec-eval-qrels-empty", TREC_EVAL, "-m map {w}/bad/qrels-empty.txt {w}/run.txt"),
    ("trec-eval-run-columns", TREC_EVAL, "-m map {w}/qrels.txt {w}/bad/run-5col.txt"),
    ("trec-eval-run-is-a-directory", TREC_EVAL, "-m map {w}/qrels.txt {w}/dense"),
    ("trec-eval-qrels-binary", TREC_EVAL, "-m map {w}/model/model.safetensors {w}/run.txt"),
    ("trec-eval-M-0", TREC_EVAL, "-M 0 -m map {w}/qrels.txt {w}/run.txt"),
    ("trec-eval-level-x", TREC_EVAL, "-l x -m map {w}/qrels.txt {w}/run.txt"),
    ("trec-eval-bad-cutoff", TREC_EVAL, "-m ndcg_cut.0 {w}/qrels.txt {w}/run.txt"),
    # the other eval commands
    ("msmarco-duplicate-docids", MSMARCO, "{w}/qrels.txt {w}/bad/run-dup.txt"),
    ("msmarco-unknown-qrels", MSMARCO, "no-such-qrels {w}/run.txt"),
    ("msmarco-level-x", MSMARCO, "-l x {w}/qrels.txt {w}/run.txt"),
    ("trec-dl-unknown-topics", TREC_DL, "--topics nope {w}/run.txt"),
    ("beir-bad-runs-syntax", BEIR, "--runs noequals --datasets scifact"),
    ("beir-unknown-dataset", BEIR, "--runs bm25={w}/{{dataset}}.txt --datasets no-such-dataset"),
    ("submission-write-hits-0", SUBMISSION, "write {w}/run.txt --output {t}/old.txt --hits 0"),
    ("submission-write-text-ids", SUBMISSION, "write {w}/run.txt --output {t}/old.txt"),
    ("submission-validate-text-pid", SUBMISSION,
     "validate {w}/bad/submission-ids.tsv --topics {w}/bad/submission-topics.tsv"),
    ("submission-validate-rank-0", SUBMISSION,
     "validate {w}/bad/submission-rank0.tsv --topics {w}/bad/submission-topics.tsv"),
    ("submission-validate-dup", SUBMISSION,
     "validate {w}/bad/submission-dup.tsv --topics {w}/bad/submission-topics.tsv"),
    ("submission-validate-spaces", SUBMISSION,
     "validate {w}/bad/submission-spaces.tsv --topics {w}/bad/submission-topics.tsv"),
    ("submission-validate-max-hits-0", SUBMISSION,
     "validate {w}/bad/submission-dup.tsv --topics {w}/bad/submission-topics.tsv --max-hits 0"),
    ("reproduce-missing-matrix", REPRODUCE, "{t}/none.yaml --work {t}/work"),
    ("reproduce-malformed-matrix", REPRODUCE, "{w}/bad/matrix.yaml --work {t}/work --output-md {t}/old.txt"),
    ("reproduce-matrix-not-a-mapping", REPRODUCE, "{w}/bad/matrix-list.yaml --work {t}/work"),
    ("reproduce-matrix-unknown-key", REPRODUCE, "{w}/bad/matrix-key.yaml --work {t}/work"),
    # rerank
    ("rerank-output-is-the-run", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv "
                                         "--corpus {w}/corpus.jsonl --output {w}/run.txt"),
    ("rerank-batch-0", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv --corpus {w}/corpus.jsonl "
                               "--output {t}/old.txt --batch-size 0"),
    ("rerank-hits-0", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv --corpus {w}/corpus.jsonl "
                              "--output {t}/old.txt --hits 0"),
    ("rerank-max-length-0", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv "
                                    "--corpus {w}/corpus.jsonl --output {t}/old.txt --max-length 0"),
    ("rerank-max-length-beyond", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv "
                                         "--corpus {w}/corpus.jsonl --output {t}/old.txt --max-length 4096"),
    ("rerank-drops-queries", RERANK, "--model {w}/model --run {w}/bad/run-q3.txt --topics {w}/topics.tsv "
                                     "--corpus {w}/corpus.jsonl --output {t}/old.txt"),
    ("rerank-unknown-document", RERANK, "--model {w}/model --run {w}/bad/run-unknown-doc.txt --topics {w}/topics.tsv "
                                        "--corpus {w}/corpus.jsonl --output {t}/old.txt"),
    ("rerank-duplicate-docids", RERANK, "--model {w}/model --run {w}/bad/run-dup.txt --topics {w}/topics.tsv "
                                        "--corpus {w}/corpus.jsonl --output {t}/old.txt"),
    ("rerank-not-a-model", RERANK, "--model {w}/not-a-model --run {w}/run.txt --topics {w}/topics.tsv "
                                   "--corpus {w}/corpus.jsonl --output {t}/old.txt"),
    ("rerank-device-cuda", RERANK, "--model {w}/model --run {w}/run.txt --topics {w}/topics.tsv "
                                   "--corpus {w}/corpus.jsonl --output {t}/old.txt --device cuda"),
    # prebuilt
    ("prebuilt-fetch-unknown", PREBUILT, "fetch no-such-index"),
    ("prebuilt-fetch-without-download", PREBUILT, "fetch beir-v1.0.0-scifact.all-minilm-l6-v2"),
    ("prebuilt-build-into-pyserini-layout", PREBUILT,
     "build pyserini --corpus {w}/corpus.jsonl --encoder {w}/model --output-dir {w}"),
    ("prebuilt-build-from-fewer-docids", PREBUILT, "build x --from-index {w}/short-dense --output-dir {t}/b"),
    ("prebuilt-build-from-nan", PREBUILT, "build x --from-index {w}/nan-dense --output-dir {t}/b"),
    ("prebuilt-build-from-nothing", PREBUILT, "build x --from-index {t}/none --output-dir {t}/b"),
    ("prebuilt-build-hnsw-into-pyserini", PREBUILT,
     "build pyserini --from-index {w}/dense --factory HNSW8 --output-dir {w}"),
    ("prebuilt-build-bad-factory", PREBUILT,
     "build x --corpus {w}/corpus.jsonl --encoder {w}/model --factory Bogus99 --output-dir {t}/b"),
    ("prebuilt-build-device-cuda", PREBUILT,
     "build x --corpus {w}/corpus.jsonl --encoder {w}/model --output-dir {t}/b --device cuda"),
    ("prebuilt-build-name-climbs-out", PREBUILT, "build .. --corpus {w}/corpus.jsonl --encoder {w}/model "
                                                 "--output-dir {t}/b"),
    ("prebuilt-build-name-with-slash", PREBUILT, "build ../x --from-index {w}/dense --factory HNSW8 "
                                                 "--output-dir {t}/b"),
    ("prebuilt-publish-no-build", PREBUILT, "publish x --from {t}/none --to {t}/served --base-url http://h/ "
                                            "--registry {t}/reg"),
    # train commands
    ("train-batch-0", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                             "{w}/corpus.jsonl --output {t}/m --batch-size 0"),
    ("train-lr-nan", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                            "{w}/corpus.jsonl --output {t}/m --lr nan"),
    ("train-refresh-negative", TRAIN, "--recipe ance --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                      "{w}/corpus.jsonl --output {t}/m --refresh-every -1"),
    ("train-decoder-layers-0", TRAIN, "--recipe simlm-pretrain --model {w}/model --corpus {w}/corpus.jsonl "
                                      "--output {t}/m --decoder-layers 0"),
    ("train-kl-weight-nan", TRAIN, "--recipe simlm --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                   "{w}/corpus.jsonl --output {t}/m --kl-weight nan"),
    ("train-retrieve-depth-0", TRAIN, "--recipe adore --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                      "{w}/corpus.jsonl --output {t}/m --retrieve-depth 0"),
    ("train-bad-groups", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/bad/groups-bad.jsonl --corpus "
                                "{w}/corpus.jsonl --output {t}/m"),
    ("train-not-a-model", TRAIN, "--recipe warmup --model {w}/not-a-model --train-data {w}/groups.jsonl --corpus "
                                 "{w}/corpus.jsonl --output {t}/m"),
    ("train-max-length-beyond", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                       "{w}/corpus.jsonl --output {t}/m --batch-size 1 --max-length 4096"),
    ("train-device-cuda", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                 "{w}/corpus.jsonl --output {t}/m --device cuda"),
    ("train-output-is-file", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                    "{w}/corpus.jsonl --output {t}/old.txt --batch-size 1"),
    ("train-output-is-an-index", TRAIN, "--recipe warmup --model {w}/model --train-data {w}/groups.jsonl --corpus "
                                        "{w}/corpus.jsonl --output {w}/dense --batch-size 1"),
    ("train-hub-name-offline", TRAIN, "--recipe warmup --model no-such-org/no-such-model --train-data "
                                      "{w}/groups.jsonl --corpus {w}/corpus.jsonl --output {t}/m --batch-size 1"),
    ("negatives-depth-0", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/qrels.txt --run {w}/run.txt "
                                     "--output {t}/old.txt --depth 0"),
    ("negatives-skip-neg", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/qrels.txt --run {w}/run.txt "
                                      "--output {t}/old.txt --skip -1"),
    ("negatives-dev-fraction", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/qrels.txt --run {w}/run.txt "
                                          "--output {t}/old.txt --dev-fraction 1.5 --dev-output {t}/dev"),
    ("negatives-dev-fraction-no-output", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/qrels.txt --run "
                                                    "{w}/run.txt --output {t}/old.txt --dev-fraction 0.5"),
    ("negatives-duplicate-docids", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/qrels.txt --run "
                                              "{w}/bad/run-dup.txt --output {t}/old.txt"),
    ("negatives-qrels-no-grade", NEGATIVES, "--topics {w}/topics.tsv --qrels {w}/bad/qrels-nograde.txt --run "
                                            "{w}/run.txt --output {t}/old.txt"),
    ("clusters-0", CLUSTERS, "--train-data {w}/groups.jsonl --clusters 0 --output {t}/old.txt"),
    ("clusters-more-than-queries", CLUSTERS,
     "--train-data {w}/groups.jsonl --clusters 5 --encoder {w}/model --output {t}/old.txt"),
    ("mix-repeats-0", MIX, "--inputs {w}/groups.jsonl --repeats 0 --output {t}/old.txt"),
    ("mix-bad-groups", MIX, "--inputs {w}/groups.jsonl {w}/bad/groups-bad.jsonl --output {t}/old.txt"),
    ("soup-weights-nan", SOUP, "--models {w}/model {w}/model --weights nan nan --output {t}/s"),
    ("soup-not-a-model", SOUP, "--models {w}/model {w}/not-a-model --output {t}/s"),
    ("soup-output-is-an-index", SOUP, "--models {w}/model {w}/model16 --output {w}/dense"),
    ("soup-output-is-a-model", SOUP, "--models {w}/model {w}/model --output {w}/model16"),
    ("soup-other-architecture", SOUP, "--models {w}/model {w}/model16 --output {t}/s"),
    ("soup-weights-sum", SOUP, "--models {w}/model {w}/model --weights 0.7 0.7 --output {t}/s"),
    ("soup-output-is-file", SOUP, "--models {w}/model {w}/model --output {t}/old.txt"),
    ("pseudo-labels-positives-neg", PSEUDO_LABELS, "--topics {w}/topics.tsv --teacher-scores {w}/run.txt "
                                                   "--output {t}/old.txt --positives -1"),
    ("pseudo-labels-depth-0", PSEUDO_LABELS, "--topics {w}/topics.tsv --teacher-scores {w}/run.txt "
                                             "--output {t}/old.txt --depth 0"),
    ("pseudo-labels-nan", PSEUDO_LABELS, "--topics {w}/topics.tsv --teacher-scores {w}/bad/run-nan.txt "
                                         "--output {t}/old.txt"),
    ("pseudo-queries-min-words-0", PSEUDO_QUERIES, "--corpus {w}/corpus.jsonl --output {t}/old.txt --min-words 0"),
    ("pseudo-queries-truncated-gzip", PSEUDO_QUERIES,
     "--corpus {w}/bad/corpus-truncated.jsonl.gz --output {t}/old.txt"),
    ("pseudo-queries-corpus-dup", PSEUDO_QUERIES, "--corpus {w}/bad/corpus-dup.jsonl --output {t}/old.txt"),
    ("hybrid-teacher-depth-0", HYBRID_TEACHER, "--index {w}/dense --sparse-index {lucene} --alpha 0.1 "
                                               "--train-data {w}/groups.jsonl --output {t}/old.txt --depth 0"),
    ("hybrid-teacher-alpha-nan", HYBRID_TEACHER, "--index {w}/dense --sparse-index {lucene} --alpha nan "
                                                 "--train-data {w}/groups.jsonl --output {t}/old.txt"),
    ("hybrid-teacher-nan-index", HYBRID_TEACHER, "--index {w}/nan-dense --sparse-index {lucene} --alpha 0.1 "
                                                 "--train-data {w}/groups.jsonl --output {t}/old.txt"),
    ("hybrid-teacher-dense-as-sparse", HYBRID_TEACHER, "--index {w}/dense --sparse-index {w}/dense --alpha 0.1 "
                                                       "--train-data {w}/groups.jsonl --output {t}/old.txt"),
    ("hybrid-teacher-batch-0", HYBRID_TEACHER, "--index {w}/dense --sparse-index {lucene} --alpha 0.1 "
                                               "--train-data {w}/groups.jsonl --output {t}/old.txt --batch-size 0"),
]



# the start of each case's error line ({w} the world, {t} the test's folder): refused for the reason meant
EXPECTED = {
    "encode-batch-tokens-0": "error: argument --batch-tokens: must be 1 or more, got 0",
    "encode-chunk-size-neg": "error: argument --chunk-size: must be 1 or more, got -1",
    "encode-max-length-0": "error: argument --max-length: must be 1 or more, got 0",
    "encode-max-length-beyond-positions": "error: --max-length 4096 is beyond the 64 positions of {w}/model",
    "encode-device-cuda-no-gpu": "error: argument --device: cuda: no GPU is visible to torch here (use cpu)",
    "encode-device-unknown": "error: argument --device: unknown device 'gpu7' (cpu, cuda, cuda:N)",
    "encode-not-a-model": "error: {w}/not-a-model is no model directory: it has no config.json",
    "encode-truncated-weights": "error: cannot read the model in {w}/model-truncated: ",
    "encode-model-is-file": "error: {w}/corpus.jsonl is a file: give the model's directory",
    "encode-output-pyserini-layout": "error: {w}/pyserini holds index and docid but no meta.json (Pyserini's layout,",
    "encode-output-finished": "error: {w}/dense already holds a finished index; remove it or pick another --o",
    "encode-output-is-file": "error: {t}/old.txt is a file, not a directory to write an index into",
    "encode-output-lucene": "error: {w}/lucene exists and is not empty (not written by this command): remov",
    "encode-corpus-dup": "error: {w}/bad/corpus-dup.jsonl:9: duplicate document id 'd0'",
    "encode-corpus-json": "error: {w}/bad/corpus-json.jsonl:3: malformed JSON (",
    "encode-corpus-empty": "error: shard 0/1 of {w}/bad/corpus-empty.jsonl has no documents",
    "encode-corpus-latin1": "error: {w}/bad/corpus-latin1.jsonl:3: not UTF-8 text",
    "encode-corpus-spaced-id": "error: {w}/bad/corpus-spaced-id.jsonl:3: document id 'd 9' holds whitespace (r",
    "encode-corpus-newline-id": "error: {w}/bad/corpus-newline-id.jsonl:3: document id 'd\\n9' holds whitespace ",
    "encode-corpus-list-text": "error: {w}/bad/corpus-list-text.jsonl:3: document d9: text is a JSON list, not",
    "encode-corpus-truncated-gzip": "error: {w}/bad/corpus-truncated.jsonl.gz:",
    "encode-corpus-not-gzip": "error: {w}/bad/corpus-not-gzip.jsonl.gz:1: not a complete gzip file (",
    "encode-shard-num-0": "error: argument --shard-num: must be 1 or more, got 0",
    "encode-shard-out-of-range": "error: --shard-id must be in [0, 2), got 2",
    "encode-hub-name-offline": "error: cannot read the model in no-such-org/no-such-model: ",
    "encode-unknown-class": "error: argument --encoder-class: invalid choice: 'x' (choose from ",
    "encode-query-batch-0": "error: argument --batch-size: must be 1 or more, got 0",
    "encode-query-bad-ext": "error: {t}/q.xyz: query vectors are written as .tsv, .jsonl, .jsonl.gz, .pkl (",
    "encode-query-no-index": "error: no such dense index directory: {t}/none",
    "encode-query-bad-topics": "error: {w}/bad/topics-notab.tsv:2: expected 'qid<TAB>query', found 'q2 no tab'",
    "encode-query-max-length": "error: --query-max-length 4096 is beyond the 64 positions of {w}/model",
    "encode-query-no-encoder-no-meta": "error: {w}/pyserini records no encoder: give --encoder",
    "encode-query-old-output": "error: {w}/bad/topics-dup.tsv:2: duplicate query id 'q1'",
    "faiss-output-pyserini-layout": "error: {w}/pyserini holds index and docid but no meta.json (Pyserini's layout,",
    "faiss-output-is-input": "error: --output must differ from --input",
    "faiss-output-finished": "error: {w}/short-dense already holds a finished index; remove it or pick anoth",
    "faiss-output-lucene": "error: {w}/lucene exists and is not empty (not written by this command): remov",
    "faiss-merge-pyserini-layout": "error: {w}/pyserini holds index and docid but no meta.json (Pyserini's layout,",
    "faiss-merge-duplicate-docids": "error: the shards share document ids: were they cut from the same corpus twice",
    "faiss-fewer-docids": "error: {w}/short-dense: meta.json records 8 documents, docid lists 7",
    "faiss-merge-fewer-docids": "error: {w}/short-dense: meta.json records 8 documents, docid lists 7",
    "faiss-nan-vectors": "error: {w}/nan-dense: 8 vectors hold nan or inf (first: document d0)",
    "faiss-merge-nan-vectors": "error: {w}/nan-dense: 8 vectors hold nan or inf (first: document d0)",
    "faiss-bad-factory": "error: faiss cannot build 'Bogus99': ",
    "faiss-ivf-too-few-vectors": "error: faiss cannot train 'IVF16,Flat' on 8 vectors: ",
    "faiss-pq-not-dividing": "error: faiss cannot build 'PQ7': ",
    "faiss-train-size-0": "error: argument --train-size: must be 1 or more, got 0",
    "faiss-ef-construction-0": "error: argument --ef-construction: must be 1 or more, got 0",
    "faiss-no-input": "error: no such dense index directory: {t}/none",
    "faiss-input-not-dense": "error: {w}/not-a-model is not a finished dense index (no meta.json; an interru",
    "lucene-output-pyserini-layout": "error: index directory {w}/pyserini exists and is not empty; remove it or pick",
    "lucene-corpus-empty": "error: {w}/bad/corpus-empty.jsonl: no documents",
    "lucene-corpus-spaced-id": "error: {w}/bad/corpus-spaced-id.jsonl:3: document id 'd 9' holds whitespace (r",
    "lucene-corpus-truncated-gzip": "error: {w}/bad/corpus-truncated.jsonl.gz:",
    "lucene-threads-0": "error: argument --threads/-threads: must be 1 or more, got 0",
    "lucene-dense-nan": "error: {w}/nan-dense: vector of 'd0' has length nan; Lucene dense indexes (DOT",
    "lucene-dense-fewer-docids": "error: {w}/short-dense: index holds 8 vectors of 32 dimensions, docid 7 ids",
    "lucene-dense-output-pyserini": "error: index directory {w}/pyserini exists and is not empty; remove it or pick",
    "lucene-dense-M-0": "error: argument -M/--M: must be 1 or more, got 0",
    "lucene-dense-shards-0": "error: argument --shards: must be 1 or more, got 0",
    "lucene-dense-no-input": "error: no such dense index directory: {t}/none",
    "info-no-index": "error: no such dense index directory: {t}/none",
    "info-not-an-index": "error: {w}/not-a-model is not a finished dense index (no meta.json; an interru",
    "info-bm25-index": "error: {w}/lucene is not a finished dense index (no meta.json",
    "search-lucene-dense-index": "error: {w}/dense is no Lucene index (no segments_N file): it is a dense index,",
    "search-lucene-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "search-lucene-k1-nan": "error: argument --k1: expected a finite number, got 'nan'",
    "search-lucene-b-above-1": "error: argument --b: must be between 0 and 1, got 1.5",
    "search-lucene-bm25-as-dense": "error: {w}/lucene is a Lucene index without dense vectors (a BM25 index?): sea",
    "search-lucene-topics-empty": "error: {w}/bad/topics-empty.tsv: no topics",
    "search-lucene-topics-dup": "error: {w}/bad/topics-dup.tsv:2: duplicate query id 'q1'",
    "search-lucene-output-dir": "error: argument --output: {w}/dense is a directory, not a file to write",
    "search-faiss-dimension-no-meta":
        "error: encoder dimension 16 does not match the 32 of {w}/pyserini's faiss inde",
    "search-faiss-dimension-no-meta-torch":
        "error: encoder dimension 16 does not match the 32 of {w}/pyserini's vectors",
    "search-faiss-no-encoder-no-meta": "error: {w}/pyserini records no encoder: give --encoder",
    "search-faiss-nan-index": "error: searching {w}/nan-dense gave non-finite scores (nan or inf): its vector",
    "search-faiss-nan-index-torch": "error: searching {w}/nan-dense gave non-finite scores (nan or inf): its vector",
    "search-faiss-fewer-docids": "error: {w}/short-dense: faiss index has 8 vectors, docid has 7",
    "search-faiss-device-cuda": "error: argument --device: cuda: no GPU is visible to torch here (use cpu)",
    "search-faiss-query-max-length": "error: --query-max-length 4096 is beyond the 64 positions of {w}/model",
    "search-faiss-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "search-faiss-ef-search-0": "error: argument --ef-search: must be 1 or more, got 0",
    "search-faiss-not-a-model": "error: {w}/not-a-model is no model directory: it has no config.json",
    "search-faiss-truncated-model": "error: cannot read the model in {w}/model-truncated: ",
    "search-faiss-bm25-index": "error: {w}/lucene is a Lucene index without dense vectors (a BM25 index?): sea",
    "search-faiss-topics-dup": "error: {w}/bad/topics-dup.tsv:2: duplicate query id 'q1'",
    "search-faiss-topics-spaced-id": "error: {w}/bad/topics-spaced-id.tsv:2: query id 'q 2' holds whitespace (run fi",
    "search-faiss-prebuilt-without-download":
        "error: prebuilt index beir-v1.0.0-scifact.all-minilm-l6-v2 has no download yet",
    "search-faiss-torch-nprobe": "error: --ef-search and --nprobe tune faiss HNSW and IVF indexes: the torch",
    "search-faiss-output-is-topics": "error: --output {w}/topics.tsv is also --topics {w}/topics.tsv: it would be rep",
    "search-faiss-output-dir": "error: argument --output: {w}/dense is a directory, not a file to write",
    "search-faiss-unknown-prebuilt": "error: no such index directory or prebuilt index: 'no-such-prebuilt' (python -",
    "hybrid-alpha-nan": "error: argument --alpha: expected a finite number, got 'nan'",
    "hybrid-rrf-k-neg": "error: argument --rrf-k: must be 0 or more, got -1",
    "hybrid-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "hybrid-sparse-is-dense": "error: {w}/dense is no Lucene index (no segments_N file): it is a dense index,",
    "hybrid-dense-is-bm25": "error: {w}/lucene is a Lucene index without dense vectors (a BM25 index?): sea",
    "hybrid-section-twice": "error: section 'dense' given twice",
    "hybrid-missing-section": "error: missing section(s): sparse (usage: dense ... sparse ... fusion ... run ",
    "hybrid-nan-index": "error: searching {w}/nan-dense gave non-finite scores (nan or inf): its vector",
    "tune-plot-unwritable": "error: argument --plot: cannot write {w}/corpus.jsonl/p.png: {w}/corpus.jsonl is n",
    "tune-plot-is-output": "error: --output {t}/old.txt is also --plot {t}/old.txt: it would be replaced",
    "tune-overlapping-topics": "error: the tuning and test topics share 2 queries: never tune on the test spli",
    "tune-no-qrels": "error: {w}/topics.tsv is a topics file: give its judgements with --tune-qrels",
    "tune-two-metrics": "error: unsupported measure 'map,ndcg_cut.10' (ndcg_cut.K, recall.K, P.K, map, ",
    "tune-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "tune-missing-section": "error: missing section: tune (--tune-topics ... --test-topics ... --output ...",
    "fusion-duplicate-docids": "error: {w}/bad/run-dup.txt:2: document d0 is ranked twice for query q1 (trec_e",
    "fusion-nan-score": "error: {w}/bad/run-nan.txt:1: score is not a number (nan)",
    "fusion-alpha-nan": "error: argument --alpha: expected a finite number, got 'nan'",
    "fusion-hits-0": "error: argument --k/--hits: must be 1 or more, got 0",
    "fusion-rrf-k-neg": "error: argument --rrf.k/--rrf-k: must be 0 or more, got -1",
    "fusion-empty-run": "error: {w}/bad/run-empty.txt: empty run",
    "fusion-msmarco-rank-0": "error: {w}/bad/run-msmarco-rank0.tsv:1: bad rank in 'q1\\td0\\t0'",
    "fusion-output-is-a-run": "error: --output {w}/run.txt is also --runs {w}/run.txt: it would be replaced",
    "fusion-missing-run": "error: no such file: {t}/none.txt",
    "fusion-output-in-file":
        "error: argument --output: cannot write {w}/corpus.jsonl/r: {w}/corpus.jsonl is not a directory",
    "trec-eval-duplicate-docids": "error: {w}/bad/run-dup.txt:2: document d0 is ranked twice for query q1 (trec_e",
    "trec-eval-nan-score": "error: {w}/bad/run-nan.txt:1: score is not a number (nan)",
    "trec-eval-qrels-no-grade": "error: {w}/bad/qrels-nograde.txt:2: expected 4 columns like the first line, fo",
    "trec-eval-qrels-inf": "error: {w}/bad/qrels-inf.txt:2: relevance 'inf' is not a whole number",
    "trec-eval-qrels-fraction": "error: {w}/bad/qrels-fraction.txt:2: relevance '0.5' is not a whole number",
    "trec-eval-qrels-conflict": "error: {w}/bad/qrels-conflict.txt:2: query q1, document d0 judged again with a",
    "trec-eval-qrels-empty": "error: {w}/bad/qrels-empty.txt: no judgements",
    "trec-eval-run-columns": "error: {w}/bad/run-5col.txt:2: expected 6 columns like the first line, found 5",
    "trec-eval-run-is-a-directory": "error: {w}/dense is a directory, not a file to read",
    "trec-eval-qrels-binary": "error: {w}/model/model.safetensors:1: not UTF-8 text",
    "trec-eval-M-0": "error: argument -M: must be 1 or more, got 0",
    "trec-eval-level-x": "error: argument -l: invalid int value: 'x'",
    "trec-eval-bad-cutoff": "error: measure 'ndcg_cut.0': rank cutoffs are 1 or more",
    "msmarco-duplicate-docids": "error: {w}/bad/run-dup.txt:2: document d0 is ranked twice for query q1 (trec_e",
    "msmarco-unknown-qrels": "error: unknown qrels 'no-such-qrels': not a file, and not one of beir-v1.0.0-s",
    "msmarco-level-x": "error: argument -l: invalid int value: 'x'",
    "trec-dl-unknown-topics": "error: unknown qrels 'nope': not a file, and not one of beir-v1.0.0-scifact-te",
    "beir-bad-runs-syntax": "error: --runs takes SYSTEM=PATTERN, got 'noequals'",
    "beir-unknown-dataset": "error: no run file found for any system and dataset (check the {{dataset}} pat",
    "submission-write-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "submission-write-text-ids": "error: MS MARCO ids are integers; the run has 'q1' (query q1)",
    "submission-validate-text-pid": "error: {w}/bad/submission-ids.tsv:1: pid 'abc' is not a non-negative integer",
    "submission-validate-rank-0": "error: {w}/bad/submission-rank0.tsv:1: query 1 has rank 0; the first rank of a",
    "submission-validate-dup": "error: {w}/bad/submission-dup.tsv:2: query 1 ranks passage 7 twice (the offici",
    "submission-validate-spaces": "error: {w}/bad/submission-spaces.tsv:1: expected 3 tab-separated fields (qid, ",
    "submission-validate-max-hits-0": "error: argument --max-hits: must be 1 or more, got 0",
    "reproduce-missing-matrix": "error: no such matrix file: {t}/none.yaml",
    "reproduce-malformed-matrix": "error: {w}/bad/matrix.yaml: not valid YAML (",
    "reproduce-matrix-not-a-mapping": "error: {w}/bad/matrix-list.yaml: : expected a mapping, found a list",
    "reproduce-matrix-unknown-key": "error: {w}/bad/matrix-key.yaml: conditions[0].steps: unknown key",
    "rerank-output-is-the-run": "error: --output {w}/run.txt is also --run {w}/run.txt: it would be replaced",
    "rerank-batch-0": "error: argument --batch-size: must be 1 or more, got 0",
    "rerank-hits-0": "error: argument --hits: must be 1 or more, got 0",
    "rerank-max-length-0": "error: argument --max-length: must be 1 or more, got 0",
    "rerank-max-length-beyond": "error: --max-length 4096 is beyond the 64 positions of {w}/model",
    "rerank-drops-queries": "error: 1 queries of {w}/bad/run-q3.txt are not in {w}/topics.tsv (first: q3): ",
    "rerank-unknown-document": "error: {w}/bad/run-unknown-doc.txt names document 'nosuchdoc', which is not in",
    "rerank-duplicate-docids": "error: {w}/bad/run-dup.txt:2: document d0 is ranked twice for query q1 (trec_e",
    "rerank-not-a-model": "error: {w}/not-a-model is no model directory: it has no config.json",
    "rerank-device-cuda": "error: argument --device: cuda: no GPU is visible to torch here (use cpu)",
    "prebuilt-fetch-unknown": "error: no such index directory or prebuilt index: 'no-such-index' (python -m p",
    "prebuilt-fetch-without-download":
        "error: prebuilt index beir-v1.0.0-scifact.all-minilm-l6-v2 has no download yet",
    "prebuilt-build-into-pyserini-layout":
        "error: {w}/pyserini holds index and docid but no meta.json (Pyserini's layout,",
    "prebuilt-build-from-fewer-docids": "error: {w}/short-dense: meta.json records 8 documents, docid lists 7",
    "prebuilt-build-from-nan": "error: {w}/nan-dense: 8 vectors hold nan or inf (first: document d0)",
    "prebuilt-build-from-nothing": "error: no such dense index directory: {t}/none",
    "prebuilt-build-hnsw-into-pyserini":
        "error: {w}/pyserini holds index and docid but no meta.json (Pyserini's layout,",
    "prebuilt-build-bad-factory": "error: faiss cannot build 'Bogus99': ",
    "prebuilt-build-device-cuda": "error: argument --device: cuda: no GPU is visible to torch here (use cpu)",
    "prebuilt-build-name-climbs-out":
        "error: '..' is not an index name (a non-empty string without '/', whitespace o",
    "prebuilt-build-name-with-slash":
        "error: '../x' is not an index name (a non-empty string without '/', whitespace",
    "prebuilt-publish-no-build": "error: no such file: {t}/none/x.yaml",
    "train-batch-0": "error: argument --batch-size: must be 1 or more, got 0",
    "train-lr-nan": "error: argument --lr: expected a finite number, got 'nan'",
    "train-refresh-negative": "error: argument --refresh-every: must be 0 or more, got -1",
    "train-decoder-layers-0": "error: argument --decoder-layers: must be 1 or more, got 0",
    "train-kl-weight-nan": "error: argument --kl-weight: expected a finite number, got 'nan'",
    "train-retrieve-depth-0": "error: argument --retrieve-depth: must be 1 or more, got 0",
    "train-bad-groups": "error: {w}/bad/groups-bad.jsonl:1: needs query_id and query_text",
    "train-not-a-model": "error: {w}/not-a-model is no model directory: it has no config.json",
    "train-max-length-beyond": "error: --max-length 4096 is beyond the 64 positions of {w}/model",
    "train-device-cuda": "error: argument --device: cuda: no GPU is visible to torch here (use cpu)",
    "train-output-is-file": "error: {t}/old.txt is a file, not a directory to write",
    "train-output-is-an-index": "error: {w}/dense exists and is not empty (not written by this command): remove",
    "train-hub-name-offline": "error: cannot read the model in no-such-org/no-such-model: ",
    "negatives-depth-0": "error: argument --depth: must be 1 or more, got 0",
    "negatives-skip-neg": "error: argument --skip: must be 0 or more, got -1",
    "negatives-dev-fraction": "error: argument --dev-fraction: must be between 0 and 1, got 1.5",
    "negatives-dev-fraction-no-output": "error: --dev-fraction needs --dev-output",
    "negatives-duplicate-docids": "error: {w}/bad/run-dup.txt:2: document d0 is ranked twice for query q1 (trec_e",
    "negatives-qrels-no-grade": "error: {w}/bad/qrels-nograde.txt:2: expected 4 columns like the first line, fo",
    "clusters-0": "error: argument --clusters: must be 1 or more, got 0",
    "clusters-more-than-queries": "error: --clusters must be in [1, 1] (the number of training queries)",
    "mix-repeats-0": "error: argument --repeats: must be 1 or more, got 0",
    "mix-bad-groups": "error: {w}/bad/groups-bad.jsonl:1: needs query_id and query_text",
    "soup-weights-nan": "error: argument --weights: expected a finite number, got 'nan'",
    "soup-not-a-model": "error: {w}/not-a-model: no *.safetensors weights (save the model with save_pre",
    "soup-output-is-an-index": "error: {w}/dense exists and is not empty (not written by this command): remove",
    "soup-output-is-a-model": "error: {w}/model16 exists and is not empty (not written by this command): remo",
    "soup-other-architecture": "error: {w}/model16/model.safetensors is another architecture: ",
    "soup-weights-sum": "error: --weights must be non-negative and sum to 1, got [0.7, 0.7]",
    "soup-output-is-file": "error: {t}/old.txt is a file, not a directory to write",
    "pseudo-labels-positives-neg": "error: argument --positives: must be 1 or more, got -1",
    "pseudo-labels-depth-0": "error: argument --depth: must be 1 or more, got 0",
    "pseudo-labels-nan": "error: {w}/bad/run-nan.txt:1: score is not a number (nan)",
    "pseudo-queries-min-words-0": "error: argument --min-words: must be 1 or more, got 0",
    "pseudo-queries-truncated-gzip": "error: {w}/bad/corpus-truncated.jsonl.gz:",
    "pseudo-queries-corpus-dup": "error: {w}/bad/corpus-dup.jsonl:9: duplicate document id 'd0'",
    "hybrid-teacher-depth-0": "error: argument --depth: must be 1 or more, got 0",
    "hybrid-teacher-alpha-nan": "error: argument --alpha: expected a finite number, got 'nan'",
    "hybrid-teacher-nan-index": "error: query q1, document d0: the score is nan (nan vectors or a broken model?",
    "hybrid-teacher-dense-as-sparse":
        "error: {w}/dense is no Lucene index (no segments_N file): it is a dense index,",
    "hybrid-teacher-batch-0": "error: argument --batch-size: must be 1 or more, got 0",
}


def _expand(argv: str, world: Path, tmp: Path) -> list[str]:
    if "{lucene}" in argv and not (world / "lucene").is_dir():
        pytest.skip(f"no Lucene index: {(world / 'no-lucene.txt').read_text()[:200]}")
    return [a.format(w=world, t=tmp, lucene=world / "lucene") for a in argv.split()]


@pytest.mark.parametrize("case, module, argv", CASES, ids=[c[0] for c in CASES])
def test_refused_untouched(world, tmp_path, capsys, case, module, argv):
    import torch

    if " cuda" in argv and torch.cuda.is_available():
        pytest.skip("a GPU is here: --device cuda is no mistake")
    if "no-such-org/" in argv and os.environ.get("HF_HUB_OFFLINE") != "1":
        pytest.skip("a hub name is looked up on the network unless HF_HUB_OFFLINE=1")
    tmp = tmp_path / "t"
    write(tmp / "old.txt", "old\n")
    line = refused(module, _expand(argv, world, tmp), capsys, world, tmp)
    assert line.startswith(EXPECTED[case].format(w=world, t=tmp)), line


# ---- faults: an interrupted encode, a corpus changed before the resume, a full disk, publish and fetch -------------

def test_encode_interrupted_then_resumed_on_a_changed_corpus_is_refused(world, tmp_path, capsys, monkeypatch):
    """Ctrl-C after the first chunk is exit 130 and a resumable directory; a resume over a corpus whose finished
    chunk changed since is one error line (the plan holds each chunk's digest), the partial vectors untouched."""
    from pyserini_dr.encode.corpus import CorpusEncoder

    corpus = write(tmp_path / "corpus.jsonl", jsonl(DOCS))
    out = tmp_path / "out"
    argv = ["--corpus", corpus, "--encoder", world / "model", "--output", out, "--chunk-size", "2", "--fp32"]
    saved = CorpusEncoder._save_progress

    def interrupt_after_first_chunk(output_dir, plan, digests):
        saved(output_dir, plan, digests)
        if len(digests) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(CorpusEncoder, "_save_progress", staticmethod(interrupt_after_first_chunk))
    code, _, err = call(ENCODE, argv, capsys)
    assert (code, err) == (130, "interrupted\n")
    assert sorted(os.listdir(out)) == [".index.partial", ".progress.json"]
    monkeypatch.setattr(CorpusEncoder, "_save_progress", staticmethod(saved))

    write(corpus, jsonl([{**DOCS[0], "text": "changed"}] + DOCS[1:]))
    line = refused(ENCODE, argv, capsys, tmp_path)
    assert line == (f"error: {corpus} changed since the interrupted run (0 documents on, its chunk 0 differs): "
                    f"remove {out} and encode again")

    write(corpus, jsonl(DOCS))  # the corpus as it was: the resume finishes
    code, _, err = call(ENCODE, argv, capsys)
    assert code == 0, err
    assert json.loads((out / "meta.json").read_text())["documents"] == len(DOCS)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs; ``fill(room)`` leaves only ``room`` bytes free. Skipped where mounting is not allowed (not
    root, no mount, a container without CAP_SYS_ADMIN)."""
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8): the disk-full cases are skipped")
    disk = tmp_path / "small"
    disk.mkdir()
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): the disk-full cases are skipped")

    def fill(room: int = 0) -> None:
        filler = disk / ".filler"
        with open(filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass
        with open(filler, "r+b") as f:
            f.truncate(max(0, filler.stat().st_size - room))

    try:
        yield disk, fill
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_encode_on_a_full_disk_is_one_line(world, tmp_path, small_disk, capsys):
    """Vectors are preallocated: a disk without room for them is one line, not SIGBUS from the memmap."""
    disk, fill = small_disk
    corpus = write(tmp_path / "corpus.jsonl", jsonl({"_id": f"d{i}", "title": "", "text": WORDS[i % len(WORDS)]}
                                                    for i in range(400)))  # 400 x 32 x 4 bytes: 51 KB of vectors
    fill(room=16384)
    before = snapshot(world, tmp_path / "corpus.jsonl")
    code, out, err = call(ENCODE, ["--corpus", corpus, "--encoder", world / "model", "--output", disk / "out",
                                   "--fp32"], capsys)
    assert "Traceback" not in err + out and code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: No space left on device"), err
    assert_unchanged(before, snapshot(world, tmp_path / "corpus.jsonl"))
    assert not (disk / "out" / "meta.json").exists()


@pytest.mark.parametrize("module, argv", [
    (FUSION, "--runs {w}/run.txt {w}/run.txt --output {d}/old.txt"),
    (SEARCH_FAISS, "--index {w}/dense --topics {w}/topics.tsv --output {d}/old.txt"),
    (ENCODE_QUERY, "--topics {w}/topics.tsv --index {w}/dense --output {d}/old.txt.tsv"),
    (INDEX_FAISS, "--input {w}/dense --output {d}/hnsw --factory HNSW8"),
    (INDEX_FAISS, "--merge {w}/dense --output {d}/merged"),
    (PREBUILT, "build x --from-index {w}/dense --output-dir {d}/dist"),
    (SUBMISSION, "write {w}/bad/submission-dup.tsv --output {d}/old.txt"),
    (TREC_EVAL, "-m map {w}/qrels.txt {w}/run.txt"),  # nothing to write: a baseline that must pass
], ids=["fusion", "search.faiss", "encode.query", "index.faiss", "index.faiss-merge", "prebuilt-build",
        "submission", "trec_eval-reads-only"])
def test_outputs_on_a_full_disk(world, tmp_path, small_disk, capsys, module, argv):
    """A full disk while an output is written: one line, the old output (and everything else) untouched."""
    disk, fill = small_disk
    write(disk / "old.txt", "old\n")
    write(disk / "old.txt.tsv", "old\n")
    fill()
    argv = [a.format(w=world, d=disk) for a in argv.split()]
    if module == TREC_EVAL:
        assert call(module, argv, capsys)[0] == 0
        return
    before = snapshot(world, disk)
    code, out, err = call(module, argv, capsys)
    assert "Traceback" not in err + out and code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    after = snapshot(world, disk)
    assert_unchanged(before, after)


def test_publish_to_an_unwritable_registry_leaves_the_served_tarball(world, tmp_path, capsys):
    """The registry entry is recorded before the new tarball is served: a failure leaves the old pair matching."""
    dist = tmp_path / "dist"
    code, _, err = call(PREBUILT, ["build", "x", "--from-index", world / "dense", "--output-dir", dist], capsys)
    assert code == 0, err
    www = tmp_path / "www"
    write(www / "x.tar.gz", "the tarball served before")
    registry = write(tmp_path / "registry", "a file where the registry directory goes\n")
    refused(PREBUILT, ["publish", "x", "--from", dist, "--to", www, "--base-url", "http://127.0.0.1:9/p",
                       "--registry", registry], capsys, tmp_path, world)


def test_fetch_refuses_an_archive_whose_files_disagree(world, tmp_path, capsys, monkeypatch, cache_root):
    """A tarball with the right checksums whose docid and index disagree in number is refused, not cached."""
    import yaml

    from pyserini_dr.prebuilt.build import checksums, pack

    packed = tmp_path / "packed"
    shutil.copytree(world / "short-dense", packed)
    tarball = tmp_path / "www" / "short.tar.gz"
    tarball.parent.mkdir()
    pack(str(packed), "short", str(tarball))
    meta = json.loads((packed / "meta.json").read_text())
    entry = {"type": "dense", "description": "docid and index disagree", "model": meta["encoder"]["model"],
             "encoder": {k: v for k, v in meta["encoder"].items() if k != "model"}, "corpus": "tiny",
             "documents": meta["documents"], "dimension": meta["dimension"], "index_type": "Flat",
             "filename": "short.tar.gz", "urls": [tarball.as_uri()], **checksums(str(tarball))}
    registry = tmp_path / "registry"
    write(registry / "short.yaml", yaml.safe_dump({"short": entry}))
    monkeypatch.setenv("PYSERINI_DR_PREBUILT", str(registry))
    line = refused(PREBUILT, ["fetch", "short"], capsys, tmp_path, world)
    assert "docid" in line
    assert not (cache_root / "indexes").is_dir() or not [n for n in os.listdir(cache_root / "indexes")
                                                          if not n.startswith(".")]
