"""peft adapters. LoRA on linear layers needs no rule of its own: its A and B are plain
nn.Linear modules, scored as such. Two peft layers read their parameters inside their own
forward in ways no rule here covers, and are refused with the reason and what to do.
"""

from attribution_engine.ghost.registry import refuse_types

refuse_types(
    "peft.tuners.lora.dora.DoraLinearLayer",
    "peft.tuners.lora.dora.DoraEmbeddingLayer",
    "peft.tuners.lora.dora._DoraConvNdLayer",
    "peft.tuners.lora.dora.DoraConv1dLayer",
    "peft.tuners.lora.dora.DoraConv2dLayer",
    "peft.tuners.lora.dora.DoraConv3dLayer",
    why=(
        "peft's DoRA rescales the whole adapted weight by its magnitude vector over the norm "
        "of W + BA, computed inside forward by calling lora_A on an identity matrix; that "
        "norm couples every row's gradient to the full weight and has no per-row rule here. "
        "Train plain LoRA (LoraConfig(use_dora=False))"
    ),
)
refuse_types(
    "peft.tuners.lora.layer.Embedding",
    why=(
        "peft's LoRA on an embedding reads lora_embedding_A / lora_embedding_B directly inside "
        "its forward (an embedding lookup into A^T, then B), not through modules a rule scores. "
        "Leave the embedding out of LoraConfig.target_modules (adapt the linear layers only)"
    ),
)
