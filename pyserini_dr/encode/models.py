"""Model classes with a head that plain ``AutoModel`` does not have, and ``load_head_model``."""
from __future__ import annotations

import torch
from transformers import BertConfig, BertModel, DistilBertConfig, PreTrainedModel, RobertaConfig, RobertaModel


class RobertaDot(PreTrainedModel):
    """RoBERTa whose first-token state goes through Linear then LayerNorm: ANCE's and DRhard's (STAR/ADORE) encoder.

    Parameter names (``roberta.*``, ``embeddingHead.*``, ``norm.*``) match castorini/ance-msmarco-passage and
    DRhard's checkpoints, so both load with ``from_pretrained``.
    """
    config_class = RobertaConfig
    base_model_prefix = "ance_encoder"
    _supports_sdpa = True  # the wrapped RobertaModel's attention; without this HF falls back to eager

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        dim = getattr(config, "output_embedding_size", None) or config.hidden_size
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.embeddingHead = torch.nn.Linear(config.hidden_size, dim)
        self.norm = torch.nn.LayerNorm(dim)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, torch.nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def forward(self, input_ids, attention_mask=None, **_):
        hidden = self.roberta(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.norm(self.embeddingHead(hidden[:, 0]))


class CosDprEncoder(PreTrainedModel):
    """CosDPR: BERT's [CLS] state through a Linear layer, then L2-normalized. Follows Pyserini 1.6's
    ``pyserini/encode/_cosdpr.py`` (``CosDprEncoder``): the same parameter names (``bert.*``, ``linear.*``)."""
    config_class = BertConfig
    base_model_prefix = "bert"
    takes_2d_mask = True

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.linear = torch.nn.Linear(config.hidden_size, config.hidden_size)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            module.bias.data.zero_()

    def forward(self, input_ids, attention_mask=None, **_):
        if attention_mask is None:  # as Pyserini's forward, which is given input_ids only
            attention_mask = input_ids != self.config.pad_token_id
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return torch.nn.functional.normalize(self.linear(hidden[:, 0]), p=2, dim=1)


def aggregate(lexical: torch.Tensor, dims: int = 640) -> torch.Tensor:
    """Aggretriever's ``aggregate(lexical_reps, 640)`` (``full=True``) as in Pyserini's ``_aggretriever.py``, copied
    there from castorini/dhr ``tevatron/Aggretriever/utils.py``: the 30522 vocabulary weights folded to 640 dims."""
    remove = 30522 % (dims * 2)      # cal_remove_dim(dims * 2), BERT's vocabulary size
    if remove > 1000:                # the first 1000 tokens in BERT are unused
        remove -= dims * 2
    rows = lexical.shape[0]
    if remove >= 0:
        lexical = lexical[:, remove:].view(rows, -1, dims * 2)
    else:
        lexical = torch.nn.functional.pad(lexical, (0, -remove), "constant", 0).view(rows, -1, dims * 2)
    tok, _ = lexical.max(1)
    positive, negative = tok[:, 0:2 * dims:2], tok[:, 1:2 * dims:2]
    return positive * (positive > negative) - negative * (positive <= negative)


class AggretrieverEncoder(PreTrainedModel):
    """Aggretriever: 128 dims from [CLS] (``cls_proj``) and 640 from the MLM head's term weights folded by
    ``aggregate``. Follows Pyserini 1.6's ``pyserini/encode/_aggretriever.py`` (``BertAggretrieverEncoder``, its
    forward without ``skip_mlm``): the same parameter names (``encoder.*`` an ``AutoModelForMaskedLM``, ``tok_proj``,
    ``cls_proj``). The padded positions of a batch count as zeros in the max over tokens, as in Pyserini's."""
    config_class = BertConfig
    base_model_prefix = "encoder"
    takes_2d_mask = True

    def __init__(self, config):
        from transformers import AutoModelForMaskedLM

        super().__init__(config)
        self.encoder = AutoModelForMaskedLM.from_config(config)
        self.tok_proj = torch.nn.Linear(config.hidden_size, 1)
        self.cls_proj = torch.nn.Linear(config.hidden_size, 128)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, torch.nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            module.bias.data.zero_()

    def forward(self, input_ids, attention_mask=None, **_):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                           return_dict=True)
        hidden = out.hidden_states[-1]
        weights = self.tok_proj(hidden[:, 1:])
        probs = torch.softmax(out.logits[:, 1:], dim=-1)
        lexical = torch.max(probs * weights * attention_mask[:, 1:].unsqueeze(-1), dim=-2).values
        return torch.cat((self.cls_proj(hidden[:, 0]), aggregate(lexical, 640)), -1)


class DistilBertAggretrieverEncoder(AggretrieverEncoder):
    config_class = DistilBertConfig


def load_head_model(path: str, head: str, dtype):
    """The model of a family with a head: ANCE's RobertaDot, DPR's question or context encoder (its config's
    architecture, as Pyserini's DprQueryEncoder / DprDocumentEncoder load one or the other), CosDPR, Aggretriever
    (its DistilBERT form where the checkpoint is DistilBERT, as Pyserini's name test 'distilbert' intends)."""
    if head == "linear-layernorm":
        return RobertaDot.from_pretrained(path, dtype=dtype)
    if head == "cosdpr":
        return CosDprEncoder.from_pretrained(path, dtype=dtype)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    if head == "aggretriever":
        cls = DistilBertAggretrieverEncoder if config.model_type == "distilbert" else AggretrieverEncoder
        return cls.from_pretrained(path, dtype=dtype)
    if head == "dpr":
        from transformers import DPRContextEncoder, DPRQuestionEncoder

        cls = DPRContextEncoder if "DPRContextEncoder" in (config.architectures or ()) else DPRQuestionEncoder
        return cls.from_pretrained(path, dtype=dtype)
    raise ValueError(f"no model class for head {head!r}")
