"""Exact inner-product search over 8,841,823 x 768 synthetic vectors, top-1000, on a GPU: one table, one run.

    python scripts/bench_search.py [--docs 8841823] [--queries 6980] [--faiss-queries 64]

Rows: pyserini-dr's TorchBackend (fp16, group-max pruning + float32 re-scoring), a plain torch matmul+topk in
fp16, and faiss-cpu IndexFlatIP (where faiss is importable; timed on a subset, it is ~1000x slower). Batched
queries/s over all queries, one-query latency (median of 50), and top-1000 overlap with float32 exact search.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def cuda_timed(fn, repeats=1):
    import torch

    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], out


def sliced_topk(q, vectors, k: int, step: int, dtype=None):
    """Top-k of q @ vectors.T, one slice of documents at a time (in ``dtype`` if given), merged as it goes."""
    import torch

    best_s = best_i = None
    for s in range(0, vectors.shape[0], step):
        v = vectors[s:s + step]
        sc = q @ (v if dtype is None else v.to(dtype)).T
        ts, ti = sc.topk(min(k, sc.shape[1]), dim=1)
        ti = ti + s
        if best_s is None:
            best_s, best_i = ts, ti
        else:
            cs, ci = torch.cat([best_s, ts], 1), torch.cat([best_i, ti], 1)
            best_s, pos = cs.topk(k, dim=1)
            best_i = ci.gather(1, pos)
    return best_s, best_i


def check_small() -> None:
    """Correctness first: TorchBackend (fused and torch-only) against float64 brute force on small random data."""
    import numpy as np

    from pyserini_dr.search.faiss.backends import TorchBackend

    rng = np.random.default_rng(1)
    for n, d, nq, k in [(100_003, 768, 37, 1000), (5_000, 384, 1, 10), (999, 64, 5, 2000)]:
        v = rng.standard_normal((n, d)).astype(np.float32)
        q = rng.standard_normal((nq, d)).astype(np.float32)
        for fused, options in (("triton", {}), ("triton fp8", {"fp8_select": True}), ("torch", None)):
            b = TorchBackend(v, fused_min_docs=0, **(options or {}))
            if options is None:
                b._kernels = None
            s, r = b.search(q, k)
            stored = b.vectors[:n].double().cpu().numpy()
            ref = q.astype(np.float64) @ stored.T
            kk = min(k, n)
            want = np.argsort(-ref, axis=1, kind="stable")[:, :kk]
            same = np.mean([len(set(r[i, :kk]) & set(want[i])) / kk for i in range(nq)])
            err = np.abs(s[:, :kk] - np.take_along_axis(ref, r[:, :kk], 1)).max()
            print(f"check n={n} d={d} q={nq} k={k} fused={fused}: top-k overlap {same:.5f}, "
                  f"max |score - float64| {err:.2e}, padding ok {bool((r[:, kk:] == -1).all())}")


def main() -> None:
    import numpy as np
    import torch

    from pyserini_dr.search.faiss.backends import TorchBackend

    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=8_841_823)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--queries", type=int, default=6980)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--overlap-queries", type=int, default=256)
    p.add_argument("--faiss-queries", type=int, default=64)
    p.add_argument("--faiss-threads", type=int, default=16)
    p.add_argument("--fp8-margin", type=int, default=TorchBackend.FP8_MARGIN,
                   help="groups taken beyond k by the fp8 selection (coarser scores need more)")
    args = p.parse_args()
    TorchBackend.FP8_MARGIN = args.fp8_margin
    k = args.k

    check_small()
    g = torch.Generator(device="cuda").manual_seed(0)
    # Synthetic corpus with structure (clusters), so that top-k scores are not all ties near zero.
    centers = torch.randn(4096, args.dim, device="cuda", generator=g)
    vectors = torch.empty(args.docs, args.dim, dtype=torch.float16, device="cuda")
    for s in range(0, args.docs, 1 << 20):
        e = min(s + (1 << 20), args.docs)
        idx = torch.randint(0, 4096, (e - s,), device="cuda", generator=g)
        v = centers[idx] + 0.8 * torch.randn(e - s, args.dim, device="cuda", generator=g)
        vectors[s:e] = torch.nn.functional.normalize(v, dim=1).half()
    qidx = torch.randint(0, 4096, (args.queries,), device="cuda", generator=g)
    queries = torch.nn.functional.normalize(centers[qidx] + torch.randn(args.queries, args.dim, device="cuda",
                                                                         generator=g), dim=1)
    queries_np = queries.cpu().numpy()

    rows = []
    configs = [(f"pyserini-dr Triton, {'fp8' if fp8 else 'fp16'} selection, batch {qb}", True, qb, fp8)
               for fp8 in (False, True) for qb in (1024, 2048)]
    for name, fused, qb, fp8 in configs + [("pyserini-dr TorchBackend fp16, torch only", False, 1024, False)]:
        backend = TorchBackend(vectors, query_batch=qb, fp8_select=fp8)
        if not fused:
            backend._kernels = None
        elif backend._fused() is None:
            print("Triton kernels unavailable: fused rows skipped")
            continue
        backend.search(queries_np[:qb], k)  # warm-up and autotuning
        backend.search(queries_np[:1], k)
        secs, (_, found) = cuda_timed(lambda: backend.search(queries_np, k), repeats=3)
        one = [cuda_timed(lambda: backend.search(queries_np[i:i + 1], k))[0] for i in range(60)][10:]
        rows.append([name, args.queries / secs, 1000 * float(np.median(one)), found])
        backend = None
        torch.cuda.empty_cache()

    def plain(q):  # the peers' baseline: fp16 matmul over slices, topk, merge
        q = torch.from_numpy(q).cuda().half()
        parts = [sliced_topk(q[qs:qs + 1024], vectors, k, 1 << 21) for qs in range(0, len(q), 1024)]
        return torch.cat([p[0].float().cpu() for p in parts]).numpy(), torch.cat([p[1].cpu() for p in parts]).numpy()

    plain(queries_np[:8])
    secs, (_, plain_i) = cuda_timed(lambda: plain(queries_np))
    one = [cuda_timed(lambda: plain(queries_np[i:i + 1]))[0] for i in range(30)][5:]
    rows.append(["plain torch matmul+topk fp16", args.queries / secs, 1000 * float(np.median(one)), plain_i])

    # float32 exact reference for the overlap, on a subset of queries
    nq = args.overlap_queries
    ref = [sliced_topk(queries[qs:min(qs + 64, nq)].float(), vectors, k, 1 << 20, torch.float32)[1].cpu()
           for qs in range(0, nq, 64)]
    ref = torch.cat(ref).numpy()

    try:
        import faiss
        faiss.omp_set_num_threads(args.faiss_threads)
        index = faiss.IndexFlatIP(args.dim)
        for s in range(0, args.docs, 1 << 20):
            index.add(vectors[s:s + (1 << 20)].float().cpu().numpy())
        fq = queries_np[:args.faiss_queries]
        t = time.perf_counter(); _, faiss_i = index.search(fq, k); fsecs = time.perf_counter() - t
        lat = []
        for i in range(3):
            t = time.perf_counter(); index.search(fq[i:i + 1], k); lat.append(time.perf_counter() - t)
        rows.append([f"faiss-cpu IndexFlatIP ({args.faiss_threads} threads, {len(fq)} q)", len(fq) / fsecs,
                     1000 * float(np.median(lat)), faiss_i])
        del index
    except ImportError:
        print("faiss not importable: faiss-cpu row skipped")

    def overlap(found):
        m = min(nq, len(found))
        return float(np.mean([len(set(found[i]) & set(ref[i])) / k for i in range(m)]))

    print(f"\nexact inner-product search, {args.docs:,} x {args.dim} fp16 vectors, top-{k}, "
          f"{args.queries:,} queries, on {torch.cuda.get_device_name()}")
    print("| method                                            | queries/s (batched) | one query (ms) | top-1000 overlap vs fp32 |")
    print("|---------------------------------------------------|---------------------|----------------|--------------------------|")
    for name, qps, ms, found in rows:
        print(f"| {name:<49} | {qps:19,.0f} | {ms:14.2f} | {overlap(found):24.4f} |")


if __name__ == "__main__":
    main()
