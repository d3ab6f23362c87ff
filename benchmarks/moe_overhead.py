"""Cost of an attributed step on a small mixture-of-experts model against a plain step.

A Mixtral-shaped model (8 experts, 2 per token), float32, transformers' default experts kernel,
one thread. Variants are interleaved round by round in one process and each is reported as its
median step time over the plain AdamW step's; the floor is 1 + (V*T')/(B*T), the target rows'
own forward and backward (DESIGN 3).

    .venv/bin/python -m benchmarks.moe_overhead            # the docs/models.md numbers
    .venv/bin/python -m benchmarks.moe_overhead --quick    # seconds
"""

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from transformers import MixtralConfig, MixtralForCausalLM

from attribution_engine import Accounting, AttributionConfig, InRunAttributor, Strategy
from attribution_engine.objective import predicted_counts, row_loss_sums
from benchmarks.gpt2_model import token_rows

VARIANTS = {
    "plain AdamW step": None,
    "1st order, SGD proxy, 1 target": (1, Accounting.SGD_PROXY, 1, Strategy.AUTO),
    "1st order, Adam exact, 1 target": (1, Accounting.ADAM, 1, Strategy.AUTO),
    "1st order, Adam exact, 8 targets": (8, Accounting.ADAM, 1, Strategy.AUTO),
    "2nd order, SGD proxy, 1 target": (1, Accounting.SGD_PROXY, 2, Strategy.AUTO),
}


def build(quick: bool):
    torch.manual_seed(0)
    width, layers, vocab, rows, tokens = (64, 2, 1024, 8, 32) if quick else (128, 4, 4096, 16, 128)
    config = MixtralConfig(
        vocab_size=vocab,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=max(1, width // 32),
        num_key_value_heads=max(1, width // 64),
        num_local_experts=8,
        num_experts_per_tok=2,
        max_position_embeddings=tokens,
        tie_word_embeddings=False,
    )
    model = MixtralForCausalLM(config).train()
    targets = token_rows(vocab, 8, tokens // 2)
    return model, token_rows(vocab, rows, tokens), targets


def make_step(variant, model, batch, targets) -> Callable[[], None]:
    model = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    if variant is None:
        n_total = int(predicted_counts(batch["labels"]).sum())

        def plain() -> None:
            optimizer.zero_grad(set_to_none=True)
            (row_loss_sums(model, batch).sum() / n_total).backward()
            optimizer.step()

        return plain
    n_targets, accounting, order, strategy = variant
    chosen = {key: value[:n_targets] for key, value in targets.items()}
    config = AttributionConfig(order=order, accounting=accounting, strategy=strategy)
    attributor = InRunAttributor(model, optimizer, chosen, config)
    return lambda: attributor.step(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, batch, targets = build(args.quick)
    steps = {name: make_step(v, model, batch, targets) for name, v in VARIANTS.items()}
    for step in steps.values():  # warm-up
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    plain = statistics.median(times["plain AdamW step"])
    rows, tokens = batch["input_ids"].shape
    print(f"Mixtral-shaped MoE, {sum(p.numel() for p in model.parameters()):,} parameters, ")
    print(f"B x T = {rows} x {tokens}, targets of {targets['input_ids'].shape[1]} tokens, 1 thread")
    print(f"plain AdamW step: {plain * 1000:.0f} ms")
    for name, values in times.items():
        n = VARIANTS[name][0] if VARIANTS[name] else 0
        floor = 1 + n * targets["input_ids"].shape[1] / (rows * tokens)
        ratio = statistics.median(values) / plain
        print(f"{name:36s} {ratio:5.2f}x   (floor {floor:.2f}x)")


if __name__ == "__main__":
    main()
