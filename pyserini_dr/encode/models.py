"""Model classes with a projection head that plain ``AutoModel`` does not have."""
from __future__ import annotations

import torch
from transformers import PreTrainedModel, RobertaConfig, RobertaModel


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
