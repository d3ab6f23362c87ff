"""The Hugging Face Trainer integration gives the values and weights of the project's own loop
for the same data order, optimizer, schedule, clipping and gradient accumulation."""

import numpy as np
import peft
import pytest
import torch
from checks import assert_no_hooks
from torch.utils.data import SequentialSampler
from transformers import TrainingArguments

from attribution_engine.chunking import Row, collate
from attribution_engine.config import AttributionConfig
from attribution_engine.hf_trainer import AttributedTrainer
from attribution_engine.models import TinyGPT2Config, tiny_gpt2
from attribution_engine.train_config import TrainConfig
from attribution_engine.training import lr_at, make_optimizer, run_loop, sample_schedule

VOCAB, PAD = 40, 0
SHAPE = TinyGPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=16)


def _rows(n: int, seed: int = 0) -> list[Row]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, 17, (n,), generator=g).tolist()
    return [
        Row(f"doc-{i}", 0, tuple(torch.randint(1, VOCAB, (k,), generator=g).tolist()))
        for i, k in enumerate(lengths)
    ]


class _InScheduleOrder(AttributedTrainer):
    """The test feeds the rows already in the loop's schedule order: no reshuffling."""

    def _get_train_sampler(self, train_dataset=None):
        return SequentialSampler(train_dataset or self.train_dataset)


def _model(lora: bool) -> torch.nn.Module:
    model = tiny_gpt2(VOCAB, SHAPE, seed=0)
    if not lora:
        return model
    torch.manual_seed(5)  # peft draws LoRA A at random: the same adapters for both runs
    config = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"], fan_in_fan_out=True)
    return peft.get_peft_model(model, config)


@pytest.mark.parametrize(("order", "lora"), [(1, False), (2, False), (1, True)])
def test_trainer_values_equal_the_project_loop(tmp_path, order, lora):
    rows = _rows(24)
    targets = collate(_rows(3, seed=1), PAD)
    config = TrainConfig(
        steps=4, batch_rows=2, accumulation=2, lr=1e-2, warmup_steps=2, order=order, seed=3
    )
    total = config.total_steps(len(rows))
    schedule = sample_schedule(len(rows), total, config.rows_per_step, config.seed)

    model = _model(lora)
    optimizer = make_optimizer(model, config)
    ours = run_loop(
        model, optimizer, rows, PAD, targets, config, schedule, tmp_path / "ck", progress=False
    )

    hf_model = _model(lora)
    hf_optimizer = make_optimizer(hf_model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        hf_optimizer, lambda step: lr_at(step, total, config) / config.lr
    )
    fed = [int(i) for i in schedule.reshape(-1)]  # the loop's data order, row by row
    args = TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        per_device_train_batch_size=config.batch_rows,
        gradient_accumulation_steps=config.accumulation,
        max_steps=total,
        max_grad_norm=config.max_grad_norm,
        learning_rate=config.lr,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        remove_unused_columns=False,
        disable_tqdm=True,
        logging_strategy="no",
    )
    trainer = _InScheduleOrder(
        model=hf_model,
        args=args,
        train_dataset=fed,
        data_collator=lambda ids: {**collate([rows[i] for i in ids], PAD), "row_id": ids},
        optimizers=(hf_optimizer, scheduler),
        targets=targets,
        attribution=AttributionConfig(order=order),
    )
    trainer.train()

    got = trainer.attribution
    assert np.array_equal(got.visit_rows, ours.visit_row)
    assert np.array_equal(got.visit_steps, ours.visit_step)
    scale = np.abs(ours.visit_values).max()
    assert np.abs(got.values - ours.visit_values).max() <= 1e-6 * scale
    lrs = [r.lr for r in got.results]
    assert lrs == pytest.approx(ours.lrs.tolist(), rel=1e-12)
    for (name, a), b in zip(model.named_parameters(), hf_model.parameters(), strict=True):
        assert float((a - b).detach().abs().max()) <= 1e-6, name
    assert_no_hooks(hf_model, hf_optimizer)
    # Per-document totals, keyed by the collator's row ids.
    totals = got.document_values()
    first = int(ours.visit_row[0])
    expected = ours.visit_values[ours.visit_row == first].sum(axis=0)
    assert np.allclose(totals[first], expected, rtol=1e-6, atol=0)
