"""nn.Embedding (weight [num_embeddings, d]): token and learned position embeddings.

Per token the weight gradient is onehot(id_t) (x) b_t, with b the output gradient [N, T, d];
tokens at padding_idx get no gradient. Position ids shared across rows ([1, T]) are expanded
to one copy per row by the capture, so each row keeps its own position gradient.
"""

import torch
from torch import nn

from attribution_engine.ghost.factors import Dense, OneHot
from attribution_engine.ghost.registry import as_tokens, register
from attribution_engine.ghost.uses import FactoredUse


def _refuse(module: nn.Module) -> str | None:
    if module.max_norm is not None:
        return "max_norm renormalises the weight inside forward"
    if module.scale_grad_by_freq:
        return "scale_grad_by_freq makes a row's gradient depend on the other rows"
    if module.sparse:
        return "sparse gradients are not supported"
    return None


@register(nn.Embedding, params=("weight",), refuse=_refuse)
def embedding_uses(module: nn.Module, inputs: tuple[torch.Tensor, ...], grad: torch.Tensor):
    n = grad.shape[0]
    ids = inputs[0].reshape(n, -1)  # N x T
    b = as_tokens(grad, n)  # N x T x d
    if module.padding_idx is not None:
        b = b * (ids != module.padding_idx).unsqueeze(-1).to(b.dtype)
    return {"weight": FactoredUse(OneHot(ids, module.num_embeddings), Dense(b))}
