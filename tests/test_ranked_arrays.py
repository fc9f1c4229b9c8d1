"""The arrays path of search.faiss writes the very bytes that write_run writes for the same hits."""
import numpy as np
import pytest

from pyserini_dr.data.ranked_arrays import RankedArrays
from pyserini_dr.data.runs import write_run


def random_hits(seed=0, queries=40, k=50, docs=300):
    rng = np.random.default_rng(seed)
    docids = np.array([f"d{rng.integers(10**6)}-{i}" for i in range(docs)], dtype=object)
    rows = np.stack([rng.permutation(docs)[:k] for _ in range(queries)])
    # coarse scores make many ties; some negative, one -1e-7 (prints -0.000000)
    scores = np.round(rng.normal(size=(queries, k)), 1).astype(np.float32)
    scores[0, 0] = -1e-7
    scores = -np.sort(-scores, axis=1)
    rows[3, -5:] = -1  # fewer hits than k, as faiss pads
    scores[3, -5:] = -np.inf
    return [f"q{i}" for i in range(queries)], docids, rows, scores


@pytest.mark.parametrize("output_format", ["trec", "msmarco"])
def test_arrays_write_the_bytes_write_run_writes(tmp_path, output_format):
    qids, docids, rows, scores = random_hits()
    ranked = RankedArrays(qids, docids, rows, scores)
    expected = {q: [(docids[r], float(s)) for r, s in zip(rows[i], scores[i]) if r >= 0] for i, q in enumerate(qids)}
    n = write_run(expected, tmp_path / "a.txt", output_format=output_format, tag="t")
    m = ranked.write(tmp_path / "b.txt", output_format=output_format, tag="t")
    assert n == m == 40 * 50 - 5
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert ranked.to_run() == {q: sorted(h, key=lambda x: (-x[1], x[0])) for q, h in expected.items()}


def test_kept_mask_and_unsorted_input(tmp_path):
    qids, docids, rows, scores = random_hits(seed=1)
    shuffle = np.random.default_rng(2).permutation(scores.shape[1])
    keep = np.ones(rows.shape, bool)
    keep[:, 7] = False  # a --remove-query hit
    ranked = RankedArrays(qids, docids, rows[:, shuffle], scores[:, shuffle], keep[:, shuffle])
    expected = {q: [(docids[r], float(s)) for j, (r, s) in enumerate(zip(rows[i], scores[i])) if r >= 0 and j != 7]
                for i, q in enumerate(qids)}
    write_run(expected, tmp_path / "a.txt")
    ranked.write(tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_ties_ordered_alike_with_and_without_gaps_in_one_call(tmp_path):
    """The vectorized tie ordering (queries whose kept hits are a prefix) and the Python one (a --remove-query gap)
    side by side in one call: the same bytes as write_run."""
    qids, docids, rows, scores = random_hits(seed=3, queries=60)
    keep = np.ones(rows.shape, bool)
    keep[::5, 3] = False  # every fifth query lost a hit to --remove-query
    ranked = RankedArrays(qids, docids, rows, scores, keep)
    expected = {q: [(docids[r], float(s)) for j, (r, s) in enumerate(zip(rows[i], scores[i]))
                    if r >= 0 and keep[i, j]] for i, q in enumerate(qids)}
    write_run(expected, tmp_path / "a.txt")
    ranked.write(tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
