"""peft adapters. LoRA on linear layers needs no rule of its own: its A and B are plain
nn.Linear modules, scored as such. LoRA on an embedding is replayed per row. DoRA on a linear
layer: its A and B are Linear calls as in LoRA, and its magnitude vector, which scales the
adapted output by magnitude / ||W + BA|| with the norm detached (peft, after the DoRA paper's
section 4.3), is replayed per row; the norm's lora_A(identity) side call never reaches the loss
(capture.py). DoRA on embeddings and convolutions is refused, saying what to do.
"""

from attribution_engine.ghost.registry import refuse_types, register
from attribution_engine.ghost.replay import replay_uses

refuse_types(
    "peft.tuners.lora.dora.DoraEmbeddingLayer",
    "peft.tuners.lora.dora._DoraConvNdLayer",
    "peft.tuners.lora.dora.DoraConv1dLayer",
    "peft.tuners.lora.dora.DoraConv2dLayer",
    "peft.tuners.lora.dora.DoraConv3dLayer",
    why=(
        "peft's DoRA on embeddings and convolutions has no per-row rule here (DoRA on linear "
        "layers has one). Apply DoRA to linear layers only (LoraConfig(target_modules=...)) or "
        "train plain LoRA (LoraConfig(use_dora=False))"
    ),
)
# LoRA on an embedding: forward reads lora_embedding_A / lora_embedding_B (parameter
# containers, no modules of their own) directly, an embedding lookup into A^T then B; each row's
# gradient of both comes from replaying the layer on that row (ghost/replay.py), exact.
register("peft.tuners.lora.layer.Embedding", params=None, replay=True)(replay_uses)
# DoRA on a linear layer: the magnitude vector enters inside the layer's arithmetic.
register("peft.tuners.lora.dora.DoraLinearLayer", params=None, replay=True)(replay_uses)
