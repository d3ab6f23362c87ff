"""Post-hoc gradient scores at the final weights (issue 15, item 2): the TrackStar recipe and
each document's gradient norm, by plain autograd, one document at a time.

TrackStar (Chang et al., 2024, "Scalable influence and fact tracing for large language model
pretraining") scores a training document d for a query q by the cosine of their loss gradients
after Adam preconditioning: phi(x) = g(x) / (sqrt(v_hat) + eps), score = phi(d).phi(q) /
(|phi(d)| |phi(q)|), where v_hat is the optimizer's bias-corrected second moment at the end of
training. Left out here, on a 0.9M-parameter model: the random projection (the gradients are
small enough to use exactly) and the autocorrelation (Hessian) correction. Dimension legend:
D documents, V target columns, P trainable parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from attribution_engine.chunking import collate
from attribution_engine.objective import predicted_counts, row_loss_sums


@dataclass
class PosthocScores:
    trackstar: np.ndarray  # float64 [D, V]: cosine of preconditioned gradients
    norms: np.ndarray  # float64 [D]: |phi(d)|, the document's preconditioned gradient norm
    seconds: float


def adam_scales(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """1 / (sqrt(v_hat) + eps) per trainable parameter, from AdamW's state after its last step."""
    scales = []
    for group in optimizer.param_groups:
        _, beta2 = group["betas"]
        for p in group["params"]:
            state = optimizer.state[p]
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))
            scales.append(1.0 / (v_hat.sqrt() + group["eps"]))
    return scales


def _features(model, params, scales, rows) -> torch.Tensor:
    """phi = preconditioned gradient of the mean token loss over `rows` (one document or one
    target), flattened [P]."""
    losses = row_loss_sums(model, rows)  # [N] summed token losses
    loss = losses.sum() / predicted_counts(rows["labels"]).sum()
    grads = torch.autograd.grad(loss, params)
    return torch.cat([(g * s).reshape(-1) for g, s in zip(grads, scales, strict=True)])


def posthoc_scores(model, optimizer, docs, rows, targets, n_targets: int, pad_id: int):
    """TrackStar cosine [D, n_targets] and preconditioned gradient norms [D] at the model's
    current weights, for the documents `docs` (their rows taken from `rows`)."""
    started = time.perf_counter()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    scales = adam_scales(optimizer)
    by_doc: dict[str, list] = {}
    for row in rows:
        by_doc.setdefault(row.doc_id, []).append(row)
    queries = []
    for v in range(n_targets):
        one = {k: t[v : v + 1] for k, t in targets.items()}
        phi = _features(model, params, scales, one)
        queries.append(phi / phi.norm())
    query = torch.stack(queries)  # [V, P] unit rows
    cosine = np.zeros((len(docs), n_targets))
    norms = np.zeros(len(docs))
    for k, doc in enumerate(docs):
        phi = _features(model, params, scales, collate(by_doc[doc.id], pad_id))
        norms[k] = float(phi.norm())
        cosine[k] = (query @ phi).double().numpy() / norms[k]
    return PosthocScores(cosine, norms, time.perf_counter() - started)
