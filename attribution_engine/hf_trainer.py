"""In-Run Data Shapley for scripts that train with the Hugging Face Trainer.

Three lines in an existing script (targets: input_ids, attention_mask, labels [V, T']):

    from attribution_engine.hf_trainer import AttributedTrainer      # instead of Trainer
    trainer = AttributedTrainer(model=model, args=args, train_dataset=ds, targets=targets)
    trainer.train(); values = trainer.attribution.values             # float64 [n, V]

The Trainer keeps its data order, collator, optimizer, scheduler, logging and checkpoints. At each
optimizer step the engine performs the step instead of the Trainer's forward/backward/clip/step:
autograd computes the training gradient of the whole accumulation window as in plain training
(loss normalised by the window's predicted tokens, as the Trainer does with num_items_in_batch),
clips it with args.max_grad_norm, lets the optimizer apply it and scores every row against every
target. The gradients are then released, so the Trainer's own optimizer.step() that follows finds
none and changes nothing (torch optimizers skip parameters without a gradient).

Rows are keyed by a `row_id` integer in each batch when the collator provides one (it is taken out
before the model sees the batch), else by their position in the order the Trainer fed them.
One process only: under torchrun use `provenance train --nproc N` (attribution_engine.distributed).
Dimension legend: n visits (rows fed, steps x rows per step), V targets.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import Trainer

from attribution_engine.config import AttributionConfig
from attribution_engine.step import InRunAttributor, StepResult

ROW_ID = "row_id"


@dataclass
class TrainerAttribution:
    """What the integration measured, step by step (values: positive = lowered the target's loss,
    in nats)."""

    steps: list[int] = field(default_factory=list)  # the Trainer's global_step of each step
    row_ids: list[np.ndarray] = field(default_factory=list)  # int64 [rows of the step]
    results: list[StepResult] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        """float64 [n, V]: one row per visit, in the order the rows were fed."""
        return torch.cat([r.values for r in self.results]).numpy()

    @property
    def visit_rows(self) -> np.ndarray:
        """int64 [n]: the row id of every visit."""
        return np.concatenate(self.row_ids)

    @property
    def visit_steps(self) -> np.ndarray:
        """int64 [n]: the step (from 0) of every visit."""
        counts = [len(ids) for ids in self.row_ids]
        return np.repeat(np.array(self.steps, dtype=np.int64), counts)

    def document_values(self) -> dict[int, np.ndarray]:
        """row id -> float64 [V]: values summed over all visits of the row (epochs included)."""
        totals: dict[int, np.ndarray] = {}
        for row, value in zip(self.visit_rows, self.values, strict=True):
            totals[int(row)] = totals.get(int(row), 0.0) + value
        return totals


class AttributedTrainer(Trainer):
    """A transformers.Trainer whose optimizer steps are In-Run Data Shapley steps.

    `targets`: the target rows (input_ids, attention_mask, labels unshifted with -100) that every
    training row is scored against; `attribution`: order, accounting and strategy of the values
    (its max_grad_norm is replaced by args.max_grad_norm, the clipping the Trainer applies).
    """

    def __init__(
        self,
        *args,
        targets: Mapping[str, torch.Tensor],
        attribution: AttributionConfig | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.args.world_size > 1:
            raise ValueError(
                "AttributedTrainer runs in one process; for several processes use "
                "`provenance train --nproc N` (attribution_engine.distributed)"
            )
        clip = self.args.max_grad_norm if self.args.max_grad_norm > 0 else None
        config = attribution or AttributionConfig()
        self.attribution_config = dataclasses.replace(config, max_grad_norm=clip)
        self.targets = dict(targets)
        self.attribution = TrainerAttribution()
        self._attributor: InRunAttributor | None = None
        self._window: list[dict] = []
        self._fed = 0  # rows fed so far: the default row ids

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """The Trainer fetches a whole accumulation window up front: keep it for the step."""
        batch_samples, num_items = super().get_batch_samples(epoch_iterator, num_batches, device)
        self._window = list(batch_samples)
        return batch_samples, num_items

    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        """The first micro-batch of a window performs the attributed step of the whole window;
        the others have been accounted for. Returns each micro-batch's share of the loss."""
        if not self._window:
            return torch.zeros((), device=self.args.device)  # already part of this step
        window, self._window = self._window, []
        micro, ids = [], []
        for batch in window:
            batch = dict(batch)
            row_id = batch.pop(ROW_ID, None)
            rows = batch["input_ids"].shape[0]
            if row_id is None:
                row_id = torch.arange(self._fed, self._fed + rows)
            self._fed += rows
            ids.append(torch.as_tensor(row_id).reshape(-1).cpu())
            micro.append(self._prepare_inputs(batch))
        model.train()
        result = self._engine(model).step(micro if len(micro) > 1 else micro[0])
        model.zero_grad(set_to_none=True)  # the Trainer's optimizer.step() must not step again
        self.attribution.steps.append(self.state.global_step)
        self.attribution.row_ids.append(torch.cat(ids).numpy().astype(np.int64))
        self.attribution.results.append(result)
        return torch.tensor(result.train_loss, device=self.args.device)

    def _engine(self, model) -> InRunAttributor:
        if self._attributor is None:
            # The engine reads the real optimizer's state (Adam-aware values), not accelerate's
            # wrapper around it.
            optimizer = getattr(self.optimizer, "optimizer", self.optimizer)
            targets = {k: v.to(self.args.device) for k, v in self.targets.items()}
            self._attributor = InRunAttributor(model, optimizer, targets, self.attribution_config)
        return self._attributor

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        finally:
            if self._attributor is not None:  # remove every hook, even after an error
                self._attributor.close()
                self._attributor = None

    def _set_signature_columns_if_needed(self) -> None:
        """Keep the row_id column when the Trainer drops columns the model does not take."""
        super()._set_signature_columns_if_needed()
        if ROW_ID not in self._signature_columns:
            self._signature_columns.append(ROW_ID)
