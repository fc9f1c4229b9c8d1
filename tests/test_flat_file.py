"""The flat faiss file written and read without faiss (``index.flat_file``) against faiss's own ``write_index`` /
``read_index`` (faiss ``impl/index_write.cpp``, ``IndexFlat``): the same bytes, the same vectors."""
from __future__ import annotations

import numpy as np
import pytest

from pyserini_dr.errors import InputError
from pyserini_dr.index import flat_file

faiss = pytest.importorskip("faiss")


@pytest.mark.parametrize("metric,cls", [("inner_product", "IndexFlatIP"), ("l2", "IndexFlatL2")])
def test_the_same_bytes_as_faiss_write_index(tmp_path, metric, cls):
    rows = np.random.default_rng(0).standard_normal((37, 24)).astype(np.float32)
    index = getattr(faiss, cls)(24)
    index.add(rows)
    faiss.write_index(index, str(tmp_path / "faiss"))
    with flat_file.FlatWriter(str(tmp_path / "ours")) as out:
        out.append(rows[:10])
        out.append(rows[10:])
    assert (tmp_path / "ours").read_bytes()[flat_file.HEADER_BYTES:] == rows.tobytes()
    if metric == "inner_product":
        assert (tmp_path / "ours").read_bytes() == (tmp_path / "faiss").read_bytes()
    assert flat_file.header(24, 37, metric) == (tmp_path / "faiss").read_bytes()[:flat_file.HEADER_BYTES]
    assert flat_file.layout(str(tmp_path / "faiss")) == (24, 37)
    np.testing.assert_array_equal(flat_file.vectors(str(tmp_path / "faiss"), 24, 37), rows)


def test_faiss_reads_a_file_finished_from_reserved_room(tmp_path):
    """encode reserves room for every line of the corpus and cuts the file to the documents read."""
    rows = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    path = str(tmp_path / "index")
    with open(path, "wb") as f:
        f.truncate(flat_file.HEADER_BYTES + 9 * 8 * 4)  # room for 9
    flat_file.vectors(path, 8, 9, mode="r+")[:5] = rows
    flat_file.finish(path, 8, 5)
    back = faiss.read_index(path)
    assert (back.ntotal, back.d, back.metric_type) == (5, 8, faiss.METRIC_INNER_PRODUCT)
    np.testing.assert_array_equal(back.reconstruct_n(0, 5), rows)
    scores, ids = back.search(rows[:2], 3)
    assert ids[:, 0].tolist() == np.argmax(rows[:2] @ rows.T, axis=1).tolist()


def test_other_indexes_and_damaged_files(tmp_path):
    hnsw = faiss.IndexHNSWFlat(8, 4, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(np.ones((3, 8), dtype=np.float32))
    faiss.write_index(hnsw, str(tmp_path / "hnsw"))
    assert flat_file.layout(str(tmp_path / "hnsw")) is None
    flat_file.write(str(tmp_path / "flat"), np.ones((3, 8), dtype=np.float32))
    data = (tmp_path / "flat").read_bytes()
    (tmp_path / "short").write_bytes(data[:-4])
    with pytest.raises(InputError) as e:
        flat_file.layout(str(tmp_path / "short"))
    assert str(e.value) == (f"{tmp_path / 'short'}: a flat faiss index of 3 vectors of 8 dimensions, but "
                            f"{len(data) - 4} bytes long (cut short or damaged)")


def test_rows_of_the_unaligned_memmap_are_aligned_copies(tmp_path):
    rows = np.random.default_rng(2).standard_normal((50, 6)).astype(np.float32)
    flat_file.write(str(tmp_path / "index"), rows)
    mapped = flat_file.vectors(str(tmp_path / "index"), 6, 50)
    assert not mapped.flags.aligned  # the vectors start at byte 45
    for start, end in ((0, 50), (7, 19), (45, 80)):
        got = flat_file.rows(mapped, start, end)
        assert got.flags.aligned and got.flags.writeable and got.dtype == np.float32
        np.testing.assert_array_equal(got, rows[start:end])
    np.testing.assert_array_equal(flat_file.rows(rows, 3, 5), rows[3:5])

