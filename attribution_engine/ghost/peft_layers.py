"""peft adapters. LoRA on linear layers needs no rule of its own: its A and B are plain
nn.Linear modules, scored as such. LoRA on an embedding is replayed per row. DoRA reads its
magnitude vector against the norm of the whole adapted weight and is refused, saying what to do.
"""

from attribution_engine.ghost.registry import refuse_types, register
from attribution_engine.ghost.replay import replay_uses

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
# LoRA on an embedding: forward reads lora_embedding_A / lora_embedding_B (parameter
# containers, no modules of their own) directly, an embedding lookup into A^T then B; each row's
# gradient of both comes from replaying the layer on that row (ghost/replay.py), exact.
register("peft.tuners.lora.layer.Embedding", params=None, replay=True)(replay_uses)
