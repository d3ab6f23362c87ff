"""Hugging Face families that needed their own rules, fine-tuned end to end through
`provenance train --model DIR` (issue 16): Gemma (scaled word embedding tied to the LM head,
1 + w RMSNorm), OPT (learned positions with an offset, read from the attention mask; FFN and
final LayerNorm on flattened [B*T, d] tokens), Mixtral (routed experts) and Qwen2-MoE (routed
experts, a shared expert and its sigmoid gate).

Each is built from a tiny config, saved in float64 with a tokenizer, trained one SGD step by the
CLI (no clipping, no decay), and the first step's values are compared with the float64
per-sample autograd oracle on the same initial weights, rows and learning rate.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from oracle import first_order, per_sample_grads, rel_err, target_grads
from synthetic import run_cli, write_corpus
from transformers import (
    GemmaConfig,
    GemmaForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
)

from attribution_engine.chunking import chunk_documents, collate, encode_targets
from attribution_engine.models import load_local_model
from attribution_engine.tokenizer import load_tokenizer, train_bpe_tokenizer

CONTEXT = 32
_IDS = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)
_MOE_SHAPE = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=CONTEXT,
    tie_word_embeddings=False,
    intermediate_size=12,
    **_IDS,
)
MOE = ("mixtral", "qwen2_moe")


def _model(family: str, vocab: int):
    torch.manual_seed(0)
    if family == "gemma":
        config = GemmaConfig(
            vocab_size=vocab,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            max_position_embeddings=CONTEXT,
            **_IDS,
        )
        return GemmaForCausalLM(config)
    if family == "opt":
        config = OPTConfig(
            vocab_size=vocab,
            hidden_size=16,
            word_embed_proj_dim=16,
            ffn_dim=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=CONTEXT,
            dropout=0.0,
            attention_dropout=0.0,
            **_IDS,
        )
        return OPTForCausalLM(config)
    if family == "mixtral":
        return MixtralForCausalLM(
            MixtralConfig(**_MOE_SHAPE, vocab_size=vocab, num_local_experts=4)
        )
    config = Qwen2MoeConfig(
        **_MOE_SHAPE,
        vocab_size=vocab,
        moe_intermediate_size=8,
        shared_expert_intermediate_size=12,
        num_experts=4,
        num_experts_per_tok=2,
    )
    return Qwen2MoeForCausalLM(config)


def _save(family: str, texts: list[str], directory: Path) -> None:
    tokenizer = train_bpe_tokenizer(texts, vocab_size=300)
    _model(family, len(tokenizer)).double().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if family in MOE:
        # transformers' default grouped_mm experts have no float64 kernel on CPU; eager is the
        # same math, and a saved config may name it.
        config = json.loads((directory / "config.json").read_text())
        config["experts_implementation"] = "eager"
        (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("family", ["gemma", "opt", *MOE])
def test_fine_tune_first_step_equals_oracle(family, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    docs = write_corpus(corpus, n_docs=12)
    model_dir = tmp_path / family
    _save(family, [d["text"] for d in docs], model_dir)
    targets = tmp_path / "targets.jsonl"
    target_text = docs[3]["text"][:40]
    targets.write_text(json.dumps({"id": "copy", "text": target_text}) + "\n")
    out = tmp_path / "out"
    run_id = run_cli(
        "train", "--corpus", str(corpus), "--targets", str(targets), "--model", str(model_dir),
        "--out", str(out), "--steps", "2", "--batch-rows", "4", "--context", str(CONTEXT),
        "--optimizer", "sgd", "--accounting", "sgd_proxy", "--lr", "0.05",
        "--warmup-steps", "0", "--weight-decay", "0", "--max-grad-norm", "none",
        "--checkpoint-every", "2", "--quiet",
    )  # fmt: skip
    run = out / "runs" / run_id
    results, schedule = np.load(run / "results.npz"), np.load(run / "schedule.npy")
    model, _ = load_local_model(model_dir)  # the saved weights: the run's initial weights
    model.train()
    tokenizer = load_tokenizer(run / "tokenizer")
    rows = chunk_documents([(d["id"], d["text"]) for d in docs], tokenizer, CONTEXT)
    assert [r.doc_id for r in rows] == json.loads((run / "rows.json").read_text())
    batch = collate([rows[i] for i in schedule[0]], tokenizer.pad_token_id)
    target = encode_targets([target_text], [None], tokenizer, CONTEXT)
    lr = float(results["lrs"][0])
    expected = first_order(lr, per_sample_grads(model, batch), target_grads(model, target))[:, 0]
    first = results["visit_step"] == 0
    assert results["visit_row"][first].tolist() == schedule[0].tolist()
    values = torch.from_numpy(results["visit_values"][first][:, 0])
    assert rel_err(values, expected) <= 1e-6
