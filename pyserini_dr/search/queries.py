"""Topics to query vectors, for every dense searcher: encoded in batches, refused where a model gives nan or inf."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def encode_topics(encoder, topics: dict[str, str], batch_size: int = 256) -> tuple[list[str], np.ndarray]:
    """(qids, one vector per qid); non-finite vectors are refused, since nan scores would be ranked without a word."""
    qids = list(topics)
    vectors = encoder.encode_queries([topics[q] for q in qids], batch_size=batch_size)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        raise InputError(f"the query encoder gave non-finite vectors (nan or inf) for {int((~finite).sum())} "
                         f"queries, e.g. {qids[int(np.flatnonzero(~finite)[0])]}: a broken checkpoint?")
    return qids, vectors
