"""The recipe of a training run: every option, its default and the reason for it, torch-free.

The one vocabulary that the command line (`provenance train`'s flags and help), the UI's Runs
form and the job payloads are built from, so that no default is written twice. Importing this
module costs no torch: the UI and query commands use it.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Literal, get_args, get_origin

from attribution_engine.config import Accounting, AttributionConfig, resolve_accounting

# The from-scratch model (models.tiny_gpt2); any other model name is a local HF directory.
TINY_MODEL = "tiny-gpt2"


def _option(default, help: str, reason: str = "", choices: tuple = ()):
    """A field with the help text the CLI and the UI show; `reason` is why the default is it.
    `choices` lists the allowed values where the type does not (a Literal lists its own)."""
    return field(default=default, metadata={"help": help, "reason": reason, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """The recipe of a run; recorded whole so that a replay can repeat it exactly."""

    steps: int = _option(0, "optimizer steps; 0: as many as --epochs passes over the rows take")
    epochs: int = _option(1, "passes over the training rows (when --steps is 0)")
    batch_rows: int = _option(16, "rows per micro-batch")
    accumulation: int = _option(1, "micro-batches per optimizer step")
    context: int = _option(128, "tokens per row; documents are chunked to it")
    optimizer: Literal["adamw", "sgd"] = _option(
        "adamw", "the update rule", "Adam-aware values under AdamW (DESIGN 2.4)"
    )
    lr: float = _option(
        3e-4,
        "peak learning rate (linear warm-up, cosine decay)",
        "a stable recipe: a loss spike lets one batch take the credit for every target",
    )
    warmup_steps: int = _option(20, "steps of linear warm-up to --lr")
    min_lr_ratio: float = _option(0.1, "the cosine decay ends at lr x this")
    weight_decay: float = _option(0.01, "AdamW's decoupled weight decay (never attributed)")
    max_grad_norm: float | None = _option(
        1.0, "gradient clipping norm (none: no clipping); values are scaled by the clip factor"
    )
    order: int = _option(
        1,
        "1: first order; 2: adds the interaction term (Hessian-vector product)",
        "second order costs 1.5-2x and moved values by ~0.1% (DESIGN 2.2)",
        choices=(1, 2),
    )
    accounting: Literal["auto", "adam", "sgd_proxy"] = _option(
        "auto",
        "which update a row is credited with: auto = Adam-aware under adamw, "
        "sgd_proxy = the paper's lr g_v.g_i whatever the optimizer did",
        "Adam-aware ranked planted sources far better than the SGD proxy (docs/fidelity.md)",
    )
    seed: int = _option(0, "seed of the weights, the tokenizer's sample and the row order")
    checkpoint_every: int = _option(
        50, "steps between checkpoints (each one also commits values to the ledger)"
    )
    reference: Literal["corpus", "file", "other_targets", "held_out"] = _option(
        "corpus",
        "what specific contribution is measured against (DESIGN 2.4b): corpus = sampled corpus "
        "documents, still trained on; file = texts from --reference-file; other_targets = "
        "the mean of the other targets; held_out = the documents listed with --hold-out, "
        "taken out of training",
        "the run must train on exactly the corpus it is given: a held-out sample once hid "
        "the very document a verbatim target copied",
    )
    reference_documents: int = _option(
        8, "corpus documents scored as the reference (--reference corpus; 2 at least)"
    )
    vocab_size: int = _option(4096, "byte-level BPE vocabulary for from-scratch runs")
    threads: int = _option(
        1,
        "torch threads (recorded: a replay is bit-exact only with the same count)",
        "CPU reductions depend on the thread count; one thread also keeps a shared 2-core "
        "machine from stalling a step several-fold",
    )

    @staticmethod
    def choices(name: str) -> tuple:
        """The allowed values of option `name` (empty: any value of its type)."""
        (option,) = [f for f in fields(TrainConfig) if f.name == name]
        literal = get_args(option.type) if get_origin(option.type) is Literal else ()
        return option.metadata["choices"] or literal

    def __post_init__(self) -> None:
        if self.steps < 0 or self.epochs < 1 or self.batch_rows < 1 or self.accumulation < 1:
            raise ValueError("steps >= 0, epochs >= 1, batch_rows >= 1, accumulation >= 1")
        self.resolved_accounting()  # validates order, max_grad_norm and accounting

    def resolved_accounting(self) -> Accounting:
        """The accounting the run's steps use (the engine's rule, config.resolve_accounting)."""
        accounting = self.attribution().accounting  # ValueError names a bad order or accounting
        try:
            return resolve_accounting(accounting, adam=self.optimizer == "adamw")
        except ValueError:
            raise ValueError(
                f"accounting 'adam' needs the adamw optimizer, not {self.optimizer!r}; "
                "use accounting 'auto' or 'sgd_proxy'"
            ) from None

    def attribution(self) -> AttributionConfig:
        """The engine's options for this recipe."""
        try:
            accounting = Accounting(self.accounting)
        except ValueError:
            choices = [a.value for a in Accounting]
            raise ValueError(
                f"accounting must be one of {choices}, not {self.accounting!r}"
            ) from None
        return AttributionConfig(
            order=self.order, max_grad_norm=self.max_grad_norm, accounting=accounting
        )

    @property
    def rows_per_step(self) -> int:
        return self.batch_rows * self.accumulation

    def total_steps(self, n_rows: int) -> int:
        per_epoch = n_rows // self.rows_per_step
        if per_epoch == 0 and self.steps == 0:
            raise ValueError(
                f"{n_rows} training rows cannot fill one step of {self.rows_per_step} rows; "
                "lower --batch-rows or add documents"
            )
        return self.steps or per_epoch * self.epochs

    def as_dict(self) -> dict:
        return asdict(self)
