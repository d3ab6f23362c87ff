"""The `provenance` command line."""

import argparse

from attribution_engine import demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="provenance", description="Copyright provenance with In-Run Data Shapley."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="attribute a tiny training run and summarise it")
    run_demo.add_argument("--steps", type=int, default=demo.DemoConfig.steps)
    run_demo.add_argument("--seed", type=int, default=demo.DemoConfig.seed)
    args = parser.parse_args(argv)
    if args.command == "demo":
        config = demo.DemoConfig(steps=args.steps, seed=args.seed)
        print(demo.summary(demo.run(config), config))


if __name__ == "__main__":
    main()
