"""The `provenance` command line. Options of train, generate, attribute and top are a contract.

Until the ledger lands (issue 4) runs live as files under --out (default ./provenance-data).
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from attribution_engine import demo
from db.schema import SchemaOutOfDate

DEFAULT_OUT = Path("provenance-data")
CORPORA = {"sotu": "the State of the Union addresses, split into paragraphs"}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, LookupError, FileNotFoundError, SchemaOutOfDate) as error:
        # input errors: say what and how to fix
        print(f"provenance {args.command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provenance", description="Copyright provenance with In-Run Data Shapley."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run_demo = commands.add_parser("demo", help="the product end to end on the SOTU corpus")
    run_demo.add_argument("--tiny", action="store_true", help="twelve documents, seconds")
    run_demo.add_argument("--steps", type=int, help="training steps (default: the demo's own)")
    run_demo.add_argument("--seed", type=int, default=0)
    run_demo.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    run_demo.set_defaults(handler=_demo)

    corpus = commands.add_parser("corpus", help="build a named demo corpus as JSONL")
    corpus.add_argument("name", choices=sorted(CORPORA))
    corpus.add_argument("-o", "--output", type=Path, required=True)
    corpus.set_defaults(handler=_corpus)

    train = commands.add_parser("train", help="train with attribution; prints the run id")
    train.add_argument("--corpus", help="JSONL, CSV or .txt directory, or a name: sotu")
    train.add_argument("--targets", type=Path, help="JSONL: id, text, optional prompt")
    train.add_argument("--model", default="tiny-gpt2", help="tiny-gpt2 or a local HF directory")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=0)
    length.add_argument("--epochs", type=int, default=1)
    train.add_argument("--order", type=int, choices=(1, 2), default=1)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--batch-rows", type=int, default=16)
    train.add_argument("--accumulation", type=int, default=1)
    train.add_argument("--lr", type=float, default=3e-4)
    train.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    train.add_argument("--reference", choices=("held_out", "other_targets"), default="held_out")
    train.add_argument("--checkpoint-every", type=int, default=50)
    train.add_argument("--threads", type=int, default=1, help="torch threads (recorded)")
    train.add_argument("--lenient", action="store_true", help="skip bad corpus lines, record them")
    train.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    _common(train)
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="sample outputs from a run's final model")
    generate.add_argument("--run", required=True)
    generate.add_argument("--prompt", required=True, action="append")
    generate.add_argument("--n", type=int, default=1)
    generate.add_argument("--max-new-tokens", type=int, default=48)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--save-targets", type=Path, help="also write them as a targets file")
    _common(generate)
    generate.set_defaults(handler=_generate)

    attribute = commands.add_parser("attribute", help="replay a run with new targets attached")
    attribute.add_argument("--run", required=True)
    attribute.add_argument("--targets", type=Path, required=True)
    _common(attribute)
    attribute.set_defaults(handler=_attribute)

    worker = commands.add_parser("worker", help="run queued train / attribute jobs")
    worker.add_argument("--once", action="store_true", help="at most one job, then exit")
    worker.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    worker.add_argument("--lease", type=float, default=600.0, help="seconds a job is held")
    _common(worker)
    worker.set_defaults(handler=_worker)

    database = commands.add_parser("db", help="ledger schema: `provenance db upgrade`")
    database.add_argument("action", choices=("upgrade", "check"))
    database.add_argument("--db", help="ledger URL (default: PROVENANCE_DB_URL)")
    database.set_defaults(handler=_db)

    top = commands.add_parser("top", help="documents ranked by contribution to a target")
    top.add_argument("--run", required=True)
    top.add_argument("--target", required=True)
    top.add_argument("-k", type=int, default=10)
    top.add_argument("--by", choices=("specific", "raw"), default="specific")
    top.add_argument("--json", action="store_true")
    _common(top)
    top.set_defaults(handler=_top)
    return parser


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    command.add_argument(
        "--db", help="ledger URL (default PROVENANCE_DB_URL; none: run files under --out only)"
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar or estimate")


def _ledger(args: argparse.Namespace):
    """A write sessionmaker on --db (or PROVENANCE_DB_URL), or None: runs stay files only.

    A new, empty database gets the schema; an existing one must be at the code's revision.
    """
    from db.schema import check_schema, current_revision, upgrade
    from db.session import make_engine, make_sessionmaker

    url = _ledger_url(args)
    if not url:
        return None
    engine = make_engine(url)
    if current_revision(engine) is None:
        upgrade(engine)
    check_schema(engine)
    return make_sessionmaker(engine, write=True)


def _demo(args: argparse.Namespace) -> None:
    if args.tiny:
        config = demo.DemoConfig(steps=args.steps or demo.DemoConfig.steps, seed=args.seed)
        print(demo.summary(demo.run(config), config))
        return
    from attribution_engine import demo_sotu

    demo_sotu.run(args.out, steps=args.steps or demo_sotu.RECIPE.steps, seed=args.seed)


def _corpus(args: argparse.Namespace) -> None:
    from attribution_engine.sotu_corpus import build_sotu_corpus

    args.output.parent.mkdir(parents=True, exist_ok=True)
    corpus = build_sotu_corpus(args.output)
    print(f"{args.output}: {len(corpus.documents)} documents, SHA-256 {corpus.sha256}")


def _corpus_path(name: str, out: Path) -> Path:
    """A corpus file, or a named corpus built once under --out."""
    if name in CORPORA and not Path(name).exists():
        path = out / "corpora" / f"{name}.jsonl"
        if not path.exists():
            from attribution_engine.sotu_corpus import build_sotu_corpus

            path.parent.mkdir(parents=True, exist_ok=True)
            build_sotu_corpus(path)
        return path
    return Path(name)


def _train(args: argparse.Namespace) -> None:
    from attribution_engine import runs
    from attribution_engine.training import TrainConfig

    ledger = _ledger(args)
    if args.resume:
        runs.execute(runs.run_dir(args.out, args.resume), progress=not args.quiet, ledger=ledger)
        print(args.resume)
        return
    if not args.corpus:
        raise ValueError("--corpus is required (a file, a directory, or: sotu)")
    config = TrainConfig(
        steps=args.steps,
        epochs=args.epochs,
        order=args.order,
        seed=args.seed,
        batch_rows=args.batch_rows,
        accumulation=args.accumulation,
        lr=args.lr,
        optimizer=args.optimizer,
        reference=args.reference,
        checkpoint_every=args.checkpoint_every,
        threads=args.threads,
    )
    run_id = runs.train(
        _corpus_path(args.corpus, args.out),
        args.out,
        config,
        model_spec=args.model,
        targets_path=args.targets,
        lenient=args.lenient,
        progress=not args.quiet,
        ledger=ledger,
    )
    print(run_id)


def _generate(args: argparse.Namespace) -> None:
    from attribution_engine import runs
    from attribution_engine.generate import generate
    from attribution_engine.models import load_local_model
    from attribution_engine.targets import TargetText, write_targets

    model, tokenizer = load_local_model(runs.run_dir(args.out, args.run) / "model")
    outputs = generate(
        model, tokenizer, args.prompt, n=args.n, max_new_tokens=args.max_new_tokens, seed=args.seed
    )
    for i, output in enumerate(outputs):
        print(json.dumps({"id": f"gen-{i}", "prompt": output.prompt, "text": output.text}))
    if args.save_targets:
        kept = [
            TargetText(f"gen-{i}", o.text, o.prompt)
            for i, o in enumerate(outputs)
            if o.text.strip()
        ]  # an empty completion has nothing to attribute
        write_targets(kept, args.save_targets)


def _attribute(args: argparse.Namespace) -> None:
    from attribution_engine import runs

    run_id = runs.attribute(
        args.run, args.targets, args.out, progress=not args.quiet, ledger=_ledger(args)
    )
    summary = json.loads((runs.run_dir(args.out, run_id) / "summary.json").read_text())
    verdict = (
        "verified: same model"
        if summary["verified_same_model"]
        else f"NOT the same model: max weight difference {summary['weight_distance']:.3g}"
    )
    print(verdict, file=sys.stderr)
    print(run_id)


def _worker(args: argparse.Namespace) -> None:
    import os
    import socket

    from attribution_engine.jobs import handlers
    from db.worker import run_worker

    factory = _ledger(args)
    if factory is None:
        raise ValueError("the worker needs the ledger: give --db URL or set PROVENANCE_DB_URL")
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    done = run_worker(
        factory,
        handlers(args.out, factory),
        worker_id,
        poll_seconds=args.poll,
        lease_seconds=args.lease,
        once=args.once,
    )
    print(f"{worker_id}: {done} job(s) finished")


def _ledger_url(args: argparse.Namespace) -> str | None:
    """--db, else PROVENANCE_DB_URL (with PROVENANCE_DB_PASSWORD_FILE), else None."""
    import os

    from db.session import ENV_URL, url_from_environment

    if args.db:
        return args.db
    if os.environ.get(ENV_URL):
        return url_from_environment(os.environ, getattr(args, "out", DEFAULT_OUT))
    return None


def _db(args: argparse.Namespace) -> None:
    from db.schema import check_schema, head_revision, upgrade
    from db.session import make_engine, safe_url

    url = _ledger_url(args)
    if not url:
        raise ValueError("give --db URL or set PROVENANCE_DB_URL")
    engine = make_engine(url)
    if args.action == "upgrade":
        upgrade(engine)
    check_schema(engine)
    print(f"{safe_url(url)}: schema at revision {head_revision()}")


def _top(args: argparse.Namespace) -> None:
    from attribution_engine import runs
    from attribution_engine.ranking import top_documents

    factory = _ledger(args)
    if factory is None:
        ranked = [
            asdict(r)
            for r in top_documents(runs.run_dir(args.out, args.run), args.target, args.k, args.by)
        ]
    else:
        from db.repository import top_documents as ledger_top
        from db.session import session_scope

        with session_scope(factory) as session:
            frame = ledger_top(session, args.run, args.target, args.k, by=args.by)
        ranked = frame.rename(columns={"doc_key": "doc_id"}).to_dict("records")
    if args.json:
        print(json.dumps(ranked, indent=2, default=float))
        return
    print(f"{'rank':>4}  {args.by + ' value':>14}  {'raw value':>12}  {'share':>6}  document")
    for r in ranked:
        print(
            f"{r['rank']:>4}  {r['value']:>+14.6f}  {r['raw_value']:>+12.6f}  {r['share']:>6.1%}  "
            f"{r['doc_id']}  ({r['source'] or 'no source'})"
        )


if __name__ == "__main__":
    main()
