"""A self-contained run of the engine: a tiny GPT-2 learns twelve short documents with AdamW
while every step is attributed to two verbatim copies and a reference text.

Tokens are raw UTF-8 bytes, so nothing is downloaded or trained besides the model itself.
The summary shows, per target, the documents ranked by specific contribution (DESIGN 2.4b)
and the efficiency check of the run (DESIGN 2.4).
"""

from dataclasses import dataclass

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from attribution_engine.config import AttributionConfig, Preconditioner
from attribution_engine.objective import IGNORE_INDEX
from attribution_engine.shapley import specific_values
from attribution_engine.step import InRunAttributor

DOCUMENTS = [
    "The lighthouse keeper logged every ship that passed the northern cape at night.",
    "Bees return to the hive and dance to tell the others where the flowers are.",
    "A glacier moves slowly downhill, carving valleys with the stones it carries.",
    "The baker wakes at four to knead the dough before the first customers arrive.",
    "Copper wire carries current because its electrons move freely through the metal.",
    "In the old library the ladders slide along brass rails between the tall shelves.",
    "Tides rise and fall twice a day, pulled by the moon and, less strongly, the sun.",
    "The orchestra tuned to a single note from the oboe before the concert began.",
    "Salmon swim upstream to the rivers where they hatched in order to spawn there.",
    "A sundial tells the hour from the shadow that a thin blade casts on its face.",
    "The ferry leaves the harbour at noon and reaches the island an hour later.",
    "Volcanic soil is rich, so farmers plant vineyards on the slopes of old cones.",
]
TARGETS = {"copy of document 3": DOCUMENTS[3], "copy of document 8": DOCUMENTS[8]}
REFERENCE = "The weather was mild and the people of the town went about their day."


@dataclass(frozen=True)
class DemoConfig:
    steps: int = 60  # enough for the copies' losses to fall well below the reference's
    batch_rows: int = 4  # each step sees a third of the corpus
    lr: float = 3e-3  # a tiny model from scratch tolerates a large AdamW step
    seed: int = 0
    preconditioner: Preconditioner = Preconditioner.EXACT


@dataclass(frozen=True)
class DemoResult:
    """Document values summed over the run, float64 [documents, targets] (last = reference)."""

    target_names: list[str]
    step_values: list[torch.Tensor]  # per step, [documents, targets]; 0 for unseen documents
    values_sum: torch.Tensor  # [targets], sum over steps and rows
    predicted_drop: torch.Tensor  # [targets], first-order drops of the applied updates
    realised_drop: torch.Tensor  # [targets], loss before the first step minus after the last
    parameters: int

    @property
    def values(self) -> torch.Tensor:
        return torch.stack(self.step_values).sum(dim=0)

    @property
    def specific(self) -> torch.Tensor:
        """Contrast with the reference text: contribution beyond typical text."""
        return specific_values(self.values, reference=len(self.target_names) - 1)


def encode(texts: list[str]) -> dict[str, torch.Tensor]:
    """UTF-8 bytes as token ids, right-padded; padding is not predicted (label -100)."""
    rows = [list(text.encode("utf-8")) for text in texts]
    width = max(len(row) for row in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    labels = ids.masked_fill(mask == 0, IGNORE_INDEX)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def run(config: DemoConfig = DemoConfig()) -> DemoResult:
    """Train the tiny model on DOCUMENTS with every step attributed to the targets."""
    torch.manual_seed(config.seed)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=256,
            n_positions=128,
            n_embd=64,
            n_layer=2,
            n_head=2,
            bos_token_id=0,
            eos_token_id=0,
        )
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    names = [*TARGETS, "reference"]
    targets = encode([*TARGETS.values(), REFERENCE])
    attribution = AttributionConfig(max_grad_norm=1.0, preconditioner=config.preconditioner)
    generator = torch.Generator().manual_seed(config.seed)
    per_step, values_sum, predicted = [], torch.zeros(len(names), dtype=torch.float64), 0.0
    with InRunAttributor(model, optimizer, targets, attribution) as attributor:
        first_losses = attributor.target_losses()
        for _ in range(config.steps):
            chosen = torch.randperm(len(DOCUMENTS), generator=generator)[: config.batch_rows]
            result = attributor.step(encode([DOCUMENTS[i] for i in chosen]))
            step = torch.zeros(len(DOCUMENTS), len(names), dtype=torch.float64)
            per_step.append(step.index_add_(0, chosen, result.values))
            values_sum += result.values_sum
            predicted = predicted + result.predicted_drop
        realised = first_losses - attributor.target_losses()
    return DemoResult(
        names, per_step, values_sum, predicted, realised, sum(p.numel() for p in model.parameters())
    )


def summary(result: DemoResult, config: DemoConfig) -> str:
    """The text `provenance demo` prints."""
    values, specific = result.values, result.specific
    lines = [
        f"Trained a {result.parameters:,}-parameter GPT-2 for {config.steps} AdamW steps on "
        f"{len(DOCUMENTS)} documents; Adam-aware values ({config.preconditioner.value})."
    ]
    for v, name in enumerate(result.target_names[:-1]):
        order = torch.argsort(specific[:, v], descending=True)
        lines.append(f"\nTarget '{name}': top documents by specific contribution (nats)")
        for rank, doc in enumerate(order[:3].tolist(), start=1):
            lines.append(
                f"  {rank}. document {doc:2d}  specific {specific[doc, v]:+.4f}  "
                f"raw {values[doc, v]:+.4f}  {DOCUMENTS[doc][:48]}..."
            )
    lines.append("\nEfficiency (sum of values vs first-order prediction vs realised drop):")
    for v, name in enumerate(result.target_names):
        lines.append(
            f"  {name:20s} values {result.values_sum[v]:+.4f}  predicted "
            f"{result.predicted_drop[v]:+.4f}  realised {result.realised_drop[v]:+.4f}"
        )
    lines.append(
        "Under AdamW these differ: values credit each gradient's whole share at its entry step, "
        "momentum applies it later (attribution_engine/README.md)."
    )
    return "\n".join(lines)
