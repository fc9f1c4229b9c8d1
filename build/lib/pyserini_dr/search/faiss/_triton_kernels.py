"""Triton kernels for exact top-k inner-product search on a GPU.

``group_max``: scores = queries @ vectors.T computed tile by tile and reduced on the chip to the maximum of each
group of GROUP adjacent documents, so the full B x N score matrix never reaches device memory (it would cost more
than the matmul itself: two bytes written and read per score); its inputs may be float8 (e4m3) on an H100, twice
the tensor-core rate. ``rescore``: float32 dot products of each query with its candidate documents, read straight
from the stored (fp16/bf16) vectors.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

GROUP = 8


def _configs():
    out = []
    for bm, bn, bk, warps, stages in [(128, 256, 64, 8, 3), (128, 256, 64, 8, 4), (256, 128, 64, 8, 3),
                                      (128, 256, 128, 8, 3), (128, 128, 128, 8, 3), (256, 128, 64, 8, 4),
                                      (128, 128, 64, 4, 4), (16, 256, 128, 4, 4), (16, 128, 128, 4, 5),
                                      (16, 512, 64, 4, 4), (32, 256, 64, 4, 4)]:
        out.append(triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, num_warps=warps, num_stages=stages))
    return out


def _prune(configs, named_args, **kwargs):
    m = named_args["M"]
    small = [c for c in configs if c.kwargs["BLOCK_M"] <= 32]
    large = [c for c in configs if c.kwargs["BLOCK_M"] > 32]
    return small if m <= 32 else large


@triton.autotune(configs=_configs(), key=["M_BUCKET", "K"], prune_configs_by={"early_config_prune": _prune})
@triton.jit
def _group_max_kernel(q_ptr, v_ptr, out_ptr, blk_ptr, scale_ptr, M, N, K, n_valid, M_BUCKET,
                      stride_qm, stride_vn, stride_om, stride_bm,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_SIZE: tl.constexpr,
                      SUPER: tl.constexpr):
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    pid_m = pid % num_m  # M fastest: the programs sharing a vector tile run together and hit L2
    pid_n = pid // num_m
    # 64-bit offsets: 8.8M documents x 768 dims overflow 32-bit pointer arithmetic
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    offs_n = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + offs_k
        a = tl.load(q_ptr + offs_m[:, None] * stride_qm + kk[None, :],
                    mask=(offs_m[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(v_ptr + offs_n[None, :] * stride_vn + kk[:, None],
                    mask=(offs_n[None, :] < N) & (kk[:, None] < K), other=0.0)
        acc = tl.dot(a, b, acc)
    acc = tl.where(offs_n[None, :] < n_valid, acc, float("-inf"))
    row_scale = tl.load(scale_ptr + offs_m, mask=offs_m < M, other=1.0)
    groups = tl.max(tl.reshape(acc, (BLOCK_M, BLOCK_N // GROUP_SIZE, GROUP_SIZE)), axis=2) * row_scale[:, None]
    offs_g = pid_n.to(tl.int64) * (BLOCK_N // GROUP_SIZE) + tl.arange(0, BLOCK_N // GROUP_SIZE)
    tl.store(out_ptr + offs_m[:, None] * stride_om + offs_g[None, :], groups.to(out_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_g[None, :] < N // GROUP_SIZE))
    # the maxima of SUPER adjacent groups too: the selection's first level, without a second pass over ``out``
    blocks = tl.max(tl.reshape(groups, (BLOCK_M, BLOCK_N // (GROUP_SIZE * SUPER), SUPER)), axis=2)
    offs_b = pid_n.to(tl.int64) * (BLOCK_N // (GROUP_SIZE * SUPER)) + tl.arange(0, BLOCK_N // (GROUP_SIZE * SUPER))
    tl.store(blk_ptr + offs_m[:, None] * stride_bm + offs_b[None, :], blocks.to(blk_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_b[None, :] < N // (GROUP_SIZE * SUPER)))


SUPER = 16  # groups per block: the second output holds the maxima of SUPER adjacent groups


def group_max(queries: torch.Tensor, vectors: torch.Tensor, n_valid: int, scale: torch.Tensor | None = None,
              out_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(M x K) @ (N x K).T reduced to the max over groups of GROUP documents, each row times its ``scale`` (an M
    float32 tensor on the device: no host sync): M x N/GROUP in ``out_dtype`` (default: the inputs' fp16/bf16),
    and the max over blocks of SUPER groups, M x N/(GROUP x SUPER). Inputs may be float8 (e4m3) on GPUs that have it.

    ``vectors`` has N a multiple of GROUP x SUPER (zero rows padded); rows >= ``n_valid`` count as -inf.
    """
    m, k = queries.shape
    n = vectors.shape[0]
    assert n % (GROUP * SUPER) == 0 and queries.dtype == vectors.dtype and queries.is_contiguous() \
        and vectors.is_contiguous()
    out = torch.empty((m, n // GROUP), dtype=out_dtype or queries.dtype, device=queries.device)
    blocks = torch.empty((m, n // (GROUP * SUPER)), dtype=out.dtype, device=queries.device)
    if scale is None:
        scale = torch.ones(m, dtype=torch.float32, device=queries.device)
    bucket = 16 if m <= 16 else 32 if m <= 32 else 1024

    def grid(meta):
        return (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]),)
    _group_max_kernel[grid](queries, vectors, out, blocks, scale, m, n, k, n_valid, bucket, queries.stride(0),
                            vectors.stride(0), out.stride(0), blocks.stride(0), GROUP_SIZE=GROUP, SUPER=SUPER)
    return out, blocks


@triton.jit
def _rescore_kernel(q_ptr, v_ptr, cand_ptr, out_ptr, C, K, stride_qm, stride_vn, stride_cm, stride_om,
                    BLOCK_C: tl.constexpr, BLOCK_K: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cand = tl.load(cand_ptr + row * stride_cm + offs_c, mask=offs_c < C, other=0).to(tl.int64)
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + tl.arange(0, BLOCK_K)
        q = tl.load(q_ptr + row * stride_qm + kk, mask=kk < K, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + cand[:, None] * stride_vn + kk[None, :], mask=(offs_c[:, None] < C) & (kk[None, :] < K),
                    other=0.0).to(tl.float32)
        acc += tl.sum(v * q[None, :], axis=1)
    tl.store(out_ptr + row * stride_om + offs_c, acc, mask=offs_c < C)


def rescore(queries: torch.Tensor, vectors: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """float32 scores of each query (M x K, float32) against its candidate rows (M x C) of ``vectors``."""
    m, k = queries.shape
    c = candidates.shape[1]
    out = torch.empty((m, c), dtype=torch.float32, device=queries.device)
    block_c, block_k = 64, 128
    _rescore_kernel[(m, triton.cdiv(c, block_c))](queries, vectors, candidates, out, c, k, queries.stride(0),
                                                  vectors.stride(0), candidates.stride(0), out.stride(0),
                                                  BLOCK_C=block_c, BLOCK_K=block_k)
    return out
