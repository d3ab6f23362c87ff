"""How far Adam's factored (row x column) preconditioner is from the exact elementwise one.

The demo run (tiny GPT-2, AdamW, twelve documents) is trained twice with the same seed, once
per preconditioner; the training trajectory is identical (the preconditioner only changes the
values), so per-step values can be compared row by row.

    .venv/bin/python benchmarks/factored_vs_exact.py
"""

import torch

from attribution_engine import Preconditioner
from attribution_engine.demo import DemoConfig, run


def ranks(values: torch.Tensor) -> torch.Tensor:
    return torch.argsort(torch.argsort(values)).double()


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([ranks(a), ranks(b)]))[0, 1])


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx - exact).norm() / exact.norm())


def main() -> None:
    torch.set_num_threads(1)
    exact = run(DemoConfig(preconditioner=Preconditioner.EXACT))
    factored = run(DemoConfig(preconditioner=Preconditioner.FACTORED))
    errors = [
        relative_error(f, e) for f, e in zip(factored.step_values, exact.step_values, strict=True)
    ]
    print(f"per-step relative error ||factored - exact|| / ||exact|| over {len(errors)} steps:")
    print(
        f"  step 1 {errors[0]:.3f}, median {torch.tensor(errors).median():.3f}, "
        f"last {errors[-1]:.3f}"
    )
    print("whole run, per target: relative error, Spearman of document values, top-1 agrees")
    for v, name in enumerate(exact.target_names):
        e, f = exact.values[:, v], factored.values[:, v]
        same_top = int(e.argmax()) == int(f.argmax())
        print(f"  {name:20s} {relative_error(f, e):.3f}  {spearman(f, e):+.3f}  {same_top}")
    for v, name in enumerate(exact.target_names[:-1]):
        e, f = exact.specific[:, v], factored.specific[:, v]
        print(
            f"  specific, {name:10s} Spearman {spearman(f, e):+.3f}, top-1 "
            f"exact {int(e.argmax())} factored {int(f.argmax())}"
        )


if __name__ == "__main__":
    main()
