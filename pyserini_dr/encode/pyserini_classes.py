"""Our encoder families as Pyserini 1.6's query encoders: the ``python -m pyserini.search.faiss`` flags that encode
queries the way an index of ours was encoded, and what Pyserini cannot match.

Pyserini ignores our meta.json: without these flags its search falls back to CLS pooling and no normalization,
which silently scores a mean-pooled, normalized index lower (Cranfield MiniLM: nDCG@10 0.2803 instead of 0.3817).
Pyserini's classes followed here (pyserini/search/faiss/__main__.py ``init_query_encoder``, pyserini/encode):
``auto`` (AutoQueryEncoder: --pooling, --l2-norm, --query-prefix joined with a space) and ``ance``
(AnceQueryEncoder: RoBERTa with the ANCE head, queries cut at 64 tokens); ``PYSERINI_PRESETS``: its other text
encoder classes as our families, and ``pyserini_class_keyword``: its guess of a class from a model name.
"""
from __future__ import annotations

from ..errors import InputError
from .settings import EncoderSettings

PYSERINI_MAX_LENGTH = 256   # search.faiss's --max-length default
ANCE_QUERY_LENGTH = 64      # AnceQueryEncoder.encode's max_length
BERT_POSITIONS = 512        # where a class does not truncate (DPR, DKRR queries), BERT's position limit cuts

# Pyserini 1.6's text encoder classes as our settings, each following its file in pyserini/encode/. Lengths are the
# class's own defaults (Pyserini's encode command passes its --max-length, 256 unless given, to every document
# encoder; search.faiss passes none to these query encoders).
PYSERINI_PRESETS = {
    # _dpr.py: DPRQuestionEncoder / DPRContextEncoder pooler_output; queries untruncated; documents
    # tokenizer(title, text_pair=text) cut at 256 (the text alone where a corpus has no titles: ours, where a
    # document's title is empty), the model given input_ids only (segment ids all 0)
    "dpr": EncoderSettings("dpr", "cls", False, "dpr", BERT_POSITIONS, 256, "titled-pair", pair_segments=False),
    # _bpr.py: DPR's question encoder; its 'dense' vector is the query, the passages' binary codes the index
    # (convert_to_binary_code of DPR's context encoder output, BPR's rerank scoring: dense query . binary code)
    "bpr": EncoderSettings("bpr", "cls", False, "dpr", BERT_POSITIONS, 256, "titled-pair", pair_segments=False,
                           binary_passages=True),
    # _dkrr.py: "question:" + " " + query, padded to 40 tokens but not cut, masked mean of BERT's states; documents
    # (no Pyserini class) as FiD's generate_passage_embeddings.py built Pyserini's DKRR indexes: TextDataset's
    # "title: {title} context: {text}", TextCollator's 200 tokens, Retriever.embed_text's masked mean
    "dkrr": EncoderSettings("dkrr", "mean", False, "none", BERT_POSITIONS, 200, "concat", query_prefix="question: ",
                            passage_template="title: {title} context: {text}"),
    # _tct_colbert.py: "[CLS] [Q] " + query + "[MASK]" * 36 cut at 36 tokens; "[CLS] [D] " + title + " " + text
    # cut at 512; no special tokens added; the mean leaves out the first 4 tokens (the markers)
    "tct_colbert": EncoderSettings("tct_colbert", "mean", False, "none", 36, 512, "concat",
                                   query_prefix="[CLS] [Q] ", query_suffix="[MASK]" * 36, passage_prefix="[CLS] [D] ",
                                   special_tokens=False, skip_tokens=4),
    # encode/__main__.py and search/faiss/__main__.py: "sentence" / "contriever" classes are AutoQueryEncoder /
    # AutoDocumentEncoder with mean pooling, L2-normalized or not (_auto.py); search.faiss gives AutoQueryEncoder no
    # max_length, so queries are cut at the tokenizer's model_max_length (0 here), documents at 256
    "sentence": EncoderSettings("sentence", "mean", True, "none", 0, 256, "concat"),
    "contriever": EncoderSettings("contriever", "mean", False, "none", 0, 256, "concat"),
    # _aggretriever.py: BertAggretrieverEncoder (models.py); queries cut at 32 tokens, documents at 512
    "aggretriever": EncoderSettings("aggretriever", "cls", False, "aggretriever", 32, 512, "concat"),
    # _cosdpr.py: CosDprEncoder (models.py), normalized in its forward; queries cut at the tokenizer's 512
    "cosdpr": EncoderSettings("cosdpr", "cls", True, "cosdpr", BERT_POSITIONS, 256, "concat"),
    # _arctic.py: [CLS], L2-normalized, 512 tokens; the query prefix joined without a space; documents are their
    # text alone (ArcticDocumentEncoder.encode takes no titles)
    "arctic": EncoderSettings("arctic", "cls", True, "none", 512, 512, "none",
                              query_prefix="Represent this sentence for searching relevant passages: "),
}

# search/faiss/__main__.py's query_encoder_class_map, in its order: init_query_encoder takes the first key found in
# the lowercased model name (encode/__main__.py's document map holds fewer classes, in another order)
PYSERINI_CLASS_KEYWORDS = ("dkrr", "cosdpr", "dpr", "bpr", "tct_colbert", "ance", "sentence", "contriever",
                           "aggretriever", "openai-api", "auto", "clip", "arctic", "uniir", "qwen3", "dse", "mmeb")
UNSUPPORTED_CLASSES = ("openai-api", "clip", "uniir", "qwen3", "dse", "mmeb")  # not text encoders of ours


def pyserini_class_keyword(name: str) -> str | None:
    """The class Pyserini's search.faiss would pick for a model name, None where no keyword is in it; an
    InputError where that class is one of Pyserini's that we do not have."""
    lowered = name.lower()
    keyword = next((k for k in PYSERINI_CLASS_KEYWORDS if k in lowered), None)
    if keyword in UNSUPPORTED_CLASSES:
        raise InputError(f"Pyserini would encode {name} with its {keyword!r} class, which is not supported here; "
                         f"give --encoder-class")
    return keyword


def pyserini_query_flags(settings: EncoderSettings) -> tuple[list[str], list[str]]:
    """(flags, caveats): Pyserini's search.faiss flags for queries encoded as ``settings`` say, and each way in which
    Pyserini's encoding still differs from ours."""
    caveats = []
    if settings.family in PYSERINI_PRESETS and settings.family not in ("sentence", "contriever"):
        flags = ["--encoder-class", settings.family]
        if settings.family == "dkrr":  # search.faiss passes --query-prefix (None) over the class's "question:"
            flags += ["--query-prefix", "question:"]
        if settings.family in ("dpr", "bpr"):
            caveats.append("DPR and BPR publish a question and a context encoder: give --encoder the question "
                           "encoder that goes with the context encoder this index records")
        if settings.family == "bpr":
            flags += ["--searcher", "bpr"]
            caveats.append("Pyserini's BPR searcher reads a binary faiss index (IndexBinaryFlat of packed codes); "
                           "this index holds the codes as float vectors (inner product = BPR's rerank score): "
                           "search it with python -m pyserini_dr.search.faiss")
        return flags, caveats
    if settings.head == "linear-layernorm":
        flags = ["--encoder-class", "ance"]
        if settings.query_max_length != ANCE_QUERY_LENGTH:
            caveats.append(f"Pyserini's AnceQueryEncoder cuts queries at {ANCE_QUERY_LENGTH} tokens; this index's "
                           f"queries take {settings.query_max_length}")
    else:
        flags = ["--encoder-class", "auto", "--pooling", settings.pooling]
        if settings.l2_norm:
            flags.append("--l2-norm")
        if settings.query_max_length not in (0, PYSERINI_MAX_LENGTH):  # search.faiss hands --max-length to OpenAI and Qwen3
            caveats.append(f"Pyserini's AutoQueryEncoder cuts a query only at the model's limit (search.faiss "
                           f"passes --max-length to its OpenAI and Qwen3 encoders only); ours at "
                           f"{settings.query_max_length} tokens, so a longer query differs")
    if settings.query_prefix:
        flags += ["--query-prefix", settings.query_prefix.rstrip(" ")]
        if not settings.query_prefix.endswith(" "):
            caveats.append(f"Pyserini puts a space between the prefix and the query; ours is {settings.query_prefix!r}")
    if settings.drhard_text:
        caveats.append("DRhard's tokenizer put a space before a query's first word (star_tokenizer.py); Pyserini's "
                       "encoders do not, so the first token differs")
    if settings.lowercase and settings.head != "linear-layernorm":
        caveats.append("this family lowercases queries; Pyserini's AutoQueryEncoder leaves that to the tokenizer")
    return flags, caveats


def pyserini_name_settings(model: str) -> dict:
    """Pyserini's guess from a model name alone (``init_query_encoder``): "sentence" in it means mean pooling and
    L2 normalization, "contriever" mean pooling; taken only where the model's own config cannot be read."""
    if "sentence" in model:
        return {"pooling": "mean", "l2_norm": True}
    if "contriever" in model:
        return {"pooling": "mean", "l2_norm": False}
    return {}
