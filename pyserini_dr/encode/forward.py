"""The passage model's forward on rows of ``DenseEncoder.passage_ids`` output, one interface in two kinds, chosen
by ``CorpusEncoder``: ``EagerForward`` pads the rows to their own width and runs the model; ``GraphedForward`` replays
the forward and pooling from a CUDA graph captured once per padded shape. Both give the model a mask decided on the
host (``host_model_mask``), so that no forward waits for the device.

Why graphs: a small model such as MiniLM finishes a batch on the device sooner than the launching thread's Python can
queue it (HF's modules launch some fifteen kernels a layer), and the tokenizer workers slow that thread further.
A graph's replay is one launch. Batches are padded to few shapes so that few graphs serve a corpus: the width up
to a multiple of ``WIDTH_STEP`` tokens, the rows up to a multiple of an eighth of their power of two (at most 12.5%
more rows; none for a batch of a power of two, as a full token budget of 256-token passages is).
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import torch

from .pooling import model_inputs, passage_code, pool_with_mask

# Encoders whose HF attention takes a prepared 4D mask as is (create_bidirectional_mask); others get their 2D mask
PREPARED_MASK_MODELS = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "ernie"}

_BATCH_MASK = object()  # host_model_mask's answer where the model gets the batch's own mask, copied with the batch


def host_model_mask(model, mask: torch.Tensor):
    """The mask to give the model, decided on the host before the copy (see ``pool_with_mask``): None where no row
    is padded; where ``takes_prepared_mask``, the boolean (batch, 1, 1, length) mask that HF would build; otherwise
    the batch's own."""
    if mask.is_cuda:
        return _BATCH_MASK
    if bool(mask.all()):
        return None
    return prepared_mask(mask) if takes_prepared_mask(model) else _BATCH_MASK


def takes_prepared_mask(model) -> bool:
    """SDPA attention in the families' architectures: HF takes a prepared 4D mask as is (no test of the mask on the
    device)."""
    if getattr(model, "takes_2d_mask", False):  # a head that reads the mask itself (models.py)
        return False
    config = model.config
    return getattr(config, "_attn_implementation", None) == "sdpa" and config.model_type in PREPARED_MASK_MODELS


def prepared_mask(mask: torch.Tensor) -> torch.Tensor:
    """A (batch, length) attention mask as the boolean (batch, 1, 1, length) mask SDPA attention reads."""
    return mask[:, None, None, :].bool()


def eager_vectors(settings, model, batch: dict, to_device) -> torch.Tensor:
    """The family's vectors of a padded host batch, run eagerly: the model's mask is decided on the host
    (``host_model_mask``), then the inputs go to the device through ``to_device``."""
    model_mask = host_model_mask(model, batch["attention_mask"])
    batch = {k: to_device(v) for k, v in model_inputs(model, batch).items()}
    if model_mask is _BATCH_MASK:
        model_mask = batch["attention_mask"]
    elif isinstance(model_mask, torch.Tensor):
        model_mask = to_device(model_mask)
    return pool_with_mask(settings, model, batch, model_mask)


WIDTH_STEP = 16
ROW_STEPS = 8       # padded row counts per doubling
MAX_GRAPHS = 64     # the least recently used graph goes beyond this (a corpus whose batches take many shapes)

log = logging.getLogger(__name__)


def padded_rows(rows: int) -> int:
    if rows <= ROW_STEPS:
        return rows
    step = 1 << (rows.bit_length() - ROW_STEPS.bit_length())  # rows' power of two over ROW_STEPS
    return -(-rows // step) * step


def padded_width(width: int, max_length: int) -> int:
    """``width`` up to a multiple of ``WIDTH_STEP``, but never past the family's max length (position embeddings)."""
    return min(-(-width // WIDTH_STEP) * WIDTH_STEP, max(width, max_length))


def graphs_supported(model, device: torch.device) -> bool:
    """A CUDA device and a model whose forward never waits for the device (``takes_prepared_mask``: no
    ``mask.all()`` test), outside autocast (its cached weight casts are freed when its context ends, and a graph
    would keep reading them)."""
    return device.type == "cuda" and takes_prepared_mask(model) and not torch.is_autocast_enabled(device.type)


class EagerForward:
    """``forward(features, rows)``: the vectors of those rows of ``DenseEncoder.passage_ids`` output, as a float32
    tensor on the device; the batch is padded to its own width and run eagerly."""

    graphed = False

    def __init__(self, encoder, model):
        self.encoder, self.model = encoder, model

    @torch.inference_mode()
    def __call__(self, features: dict, rows) -> torch.Tensor:
        with self.encoder.precision():
            return passage_code(self.encoder.settings, eager_vectors(
                self.encoder.settings, self.model, self.encoder.pad(features, rows), self.encoder._to_device).float())


class GraphedForward:
    """``EagerForward``'s interface, replayed from CUDA graphs where ``graphs_supported``: the batch is padded to its
    shape's graph and the tensor returned is that graph's output: read it (or copy it, in stream order) before the
    next call. Where a capture fails, ``graphed`` turns False and every batch runs eagerly from then on."""

    def __init__(self, encoder, model):
        self.encoder, self.model = encoder, model
        self.eager = EagerForward(encoder, model)
        self.graphed = True
        self.max_length = encoder.settings.passage_max_length
        self.graphs: OrderedDict = OrderedDict()  # (rows, width) -> (graph, static inputs, static output)
        self.memory = torch.cuda.graph_pool_handle()

    @torch.inference_mode()  # the static inputs were made in it
    def __call__(self, features: dict, rows) -> torch.Tensor:
        if not self.graphed:
            return self.eager(features, rows)
        width = max(len(features["input_ids"][i]) for i in rows)
        shape = (padded_rows(len(rows)), padded_width(width, self.max_length))
        batch = model_inputs(self.model, self.encoder.pad(features, rows, shape))
        key = tuple(batch["input_ids"].shape)
        entry = self.graphs.get(key)
        if entry is None:
            entry = self._capture(batch)
            if entry is None:  # capture failed: eager from now on
                return self(features, rows)
            self.graphs[key] = entry
            if len(self.graphs) > MAX_GRAPHS:
                self.graphs.popitem(last=False)
        else:
            self.graphs.move_to_end(key)
            graph, static, _ = entry
            for name, tensor in batch.items():
                static[name].copy_(self.encoder._pinned(tensor), non_blocking=True)
            graph.replay()
        return entry[2][:len(rows)]

    def _forward(self, static: dict) -> torch.Tensor:
        """The forward with our prepared 4D mask, also where no row is padded: while a graph is captured, HF cannot
        test a mask for padding and builds an expanded one (stride 0), which no fused attention kernel takes (SDPA's
        math kernel, in float32, is several times slower). Fused kernels only: a capture without one fails and turns
        graphs off, rather than running slowly."""
        from torch.nn.attention import SDPBackend, sdpa_kernel

        mask = prepared_mask(static["attention_mask"])
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
            return passage_code(self.encoder.settings, pool_with_mask(self.encoder.settings, self.model, static, mask))

    @torch.inference_mode()
    def _capture(self, batch: dict):
        """A graph of ``_forward`` on this batch's shape, its static inputs (holding this batch) and output, which
        holds this batch's vectors; None, with graphs turned off, where the capture fails or the replay differs
        from the eager forward."""
        device = self.encoder.device
        static = {name: tensor.to(device) for name, tensor in batch.items()}
        side = torch.cuda.Stream(device)  # warm-up on a side stream, as torch.cuda.graph's documentation asks
        side.wait_stream(torch.cuda.current_stream(device))
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.stream(side):
                eager = self._forward(static)
            torch.cuda.current_stream(device).wait_stream(side)
            with torch.cuda.graph(graph, pool=self.memory, capture_error_mode="thread_local"):
                out = self._forward(static)
            graph.replay()
            # the same kernels on the same inputs; a margin for a cuBLAS algorithm that differs under capture
            same = bool((out - eager).abs().max() <= 1e-2 * eager.abs().max())
        except Exception as error:  # no fused attention, an op that waits for the device, ...
            torch.cuda.current_stream(device).wait_stream(side)
            log.warning("CUDA graphs off for %s: capture failed (%s)", type(self.model).__name__, error)
            same = None
        if not same:
            if same is False:
                log.warning("CUDA graphs off for %s: replay differs from the eager forward", type(self.model).__name__)
            self.graphed, self.graphs = False, OrderedDict()
            return None
        return graph, static, out

