"""The `provenance` command line. Options of train, generate, attribute and top are a contract.

Run files live under --out (default ./provenance-data); results in the ledger (--db, else
PROVENANCE_DB_URL, else SQLite in --out). Exit status 2: a bad request (what and how to fix);
1: the run stopped on a storage failure or a non-finite value (the state before it is intact).

Each command imports what it needs inside its handler: the query commands (top, report,
verify, db, ui) never import torch or transformers, so they answer in well under a second.
"""

import argparse
import json
import sys
from dataclasses import asdict, fields
from functools import partial
from pathlib import Path

from attribution_engine.errors import NonFiniteError, StorageError
from attribution_engine.train_config import TINY_MODEL, TrainConfig
from db.schema import SchemaOutOfDate

DEFAULT_OUT = Path("provenance-data")
CORPORA = {"sotu": "the State of the Union addresses, split into paragraphs"}


# Commands that train: run on jemalloc where the machine has it (provenance/allocator.py).
TRAINING_COMMANDS = frozenset({"train", "attribute", "worker", "demo"})


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if argv is None and args.command in TRAINING_COMMANDS:  # a process of its own, not a call
        from provenance.allocator import reexec_with_jemalloc

        reexec_with_jemalloc()
    try:
        args.handler(args)
    except (ValueError, LookupError, FileNotFoundError, SchemaOutOfDate) as error:
        # input errors: say what and how to fix
        print(f"provenance {args.command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except (StorageError, NonFiniteError) as error:
        print(f"provenance {args.command}: {error}", file=sys.stderr)
        raise SystemExit(1) from None


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none worth printing (None,
    False for a switch) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if (
            "%(default)" in help_text
            or "default" in help_text
            or action.default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return help_text
        return f"{help_text} (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provenance",
        description="Copyright provenance with In-Run Data Shapley.",
        formatter_class=_HelpWithDefaults,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser = partial(commands.add_parser, formatter_class=_HelpWithDefaults)

    run_demo = commands.add_parser(
        "demo",
        help="the product end to end: a tiny GPT-2 memorises registered works among SOTU "
        "paragraphs, then each output's sources are ranked with their evidence",
    )
    run_demo.add_argument("--tiny", action="store_true", help="twelve documents, seconds")
    run_demo.add_argument("--steps", type=int, help="training steps (default: the demo's own)")
    run_demo.add_argument(
        "--seed", type=int, default=0, help="seed of the model, the order and the sampling"
    )
    run_demo.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    run_demo.add_argument("--db", help="ledger URL (default: as for train)")
    run_demo.set_defaults(handler=_demo)

    corpus = commands.add_parser("corpus", help="build a named demo corpus as JSONL")
    corpus.add_argument(
        "name",
        choices=sorted(CORPORA),
        help="; ".join(f"{name}: {what}" for name, what in sorted(CORPORA.items())),
    )
    corpus.add_argument("-o", "--output", type=Path, required=True, help="the JSONL file to write")
    corpus.set_defaults(handler=_corpus)

    train = commands.add_parser("train", help="train with attribution; prints the run id")
    train.add_argument("--corpus", help="JSONL, CSV or .txt directory, or a name: sotu")
    train.add_argument("--targets", type=Path, help="JSONL: id, text, optional prompt")
    train.add_argument(
        "--model",
        default=TINY_MODEL,
        help=f"{TINY_MODEL} (trained from scratch) or a local Hugging Face model directory to "
        "fine-tune (default: %(default)s)",
    )
    _config_options(train)
    train.add_argument(
        "--reference-file",
        type=Path,
        help="with --reference file: a .jsonl of reference texts (id, text) that the corpus "
        "does not contain",
    )
    train.add_argument(
        "--hold-out",
        action="append",
        default=[],
        metavar="ID",
        help="with --reference held_out: a corpus document to take out of training and score "
        "as the reference (repeatable); no other reference removes documents",
    )
    train.add_argument("--lenient", action="store_true", help="skip bad corpus lines, record them")
    train.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    train.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes on this machine (torchrun; gloo on CPU, nccl on GPU); "
        "--accumulation must be a multiple of it, values equal one process's",
    )
    _common(train)
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="sample outputs from a run's final model")
    generate.add_argument("--run", required=True, help="the run id `train` printed")
    generate.add_argument(
        "--prompt", required=True, action="append", help="text to continue (repeatable)"
    )
    generate.add_argument("--n", type=int, default=1, help="outputs per prompt")
    generate.add_argument(
        "--max-new-tokens", type=int, default=48, help="longest output, in tokens"
    )
    generate.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    generate.add_argument("--save-targets", type=Path, help="also write them as a targets file")
    _common(generate)
    generate.set_defaults(handler=_generate)

    attribute = commands.add_parser("attribute", help="replay a run with new targets attached")
    attribute.add_argument("--run", required=True, help="the run id to replay")
    attribute.add_argument(
        "--targets", type=Path, required=True, help="JSONL: id, text, optional prompt"
    )
    _common(attribute)
    attribute.set_defaults(handler=_attribute)

    worker = commands.add_parser("worker", help="run queued train / attribute jobs")
    worker.add_argument("--once", action="store_true", help="at most one job, then exit")
    worker.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    worker.add_argument(
        "--lease",
        type=float,
        default=60.0,
        help="seconds a job is held; a heartbeat renews it every third of that, and a dead "
        "worker's job is resumed by another worker once it expires",
    )
    _common(worker)
    worker.set_defaults(handler=_worker)

    database = commands.add_parser("db", help="ledger schema: `provenance db upgrade`")
    database.add_argument(
        "action",
        choices=("upgrade", "check"),
        help="upgrade: bring the ledger to the code's schema; check: say whether it is there",
    )
    database.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    database.add_argument(
        "--db", help="ledger URL (default PROVENANCE_DB_URL, else SQLite ledger.sqlite3 in --out)"
    )
    database.set_defaults(handler=_db)

    top = commands.add_parser("top", help="documents ranked by contribution to a target")
    top.add_argument("--run", required=True, help="the run id (a replay's id for its targets)")
    top.add_argument("--target", required=True, help="the target id, e.g. gen-0")
    top.add_argument("-k", type=int, default=10, help="how many documents")
    top.add_argument(
        "--by",
        choices=("fused", "specific", "raw"),
        default=None,
        help="fused (default; specific with --steps): training contribution fused with word "
        "overlap (reciprocal-rank fusion with BM25); specific: the specific value alone; raw: "
        "the raw Shapley value. The values printed are the exact values whatever the order",
    )
    top.add_argument("--json", action="store_true", help="print JSON records, not a table")
    top.add_argument(
        "--steps",
        metavar="FIRST:LAST",
        help="rank by the values earned in steps FIRST..LAST only (from 0, inclusive; e.g. the "
        "last epoch), from the ledger's per-visit values; shares are then not shown",
    )
    _common(top)
    top.set_defaults(handler=_top)

    report = commands.add_parser("report", help="a verifiable provenance report of a target")
    report.add_argument("--run", required=True, help="the run id (a replay's id for its targets)")
    report.add_argument("--target", required=True, help="the target id, e.g. gen-0")
    report.add_argument(
        "--format",
        choices=("pdf", "html", "json", "csv"),
        required=True,
        help="pdf or html to read, json to verify (html embeds it too), csv for spreadsheets",
    )
    report.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    _common(report)
    report.set_defaults(handler=_report)

    verify = commands.add_parser(
        "verify",
        help="recompute every hash and number of a report; exit 0 only when it matches the "
        "ledger in every check, 1 when a check fails, 3 when less was proved (self-consistent "
        "only, or some checks not done), 2 on bad input",
    )
    verify.add_argument("report", type=Path, help="a JSON report (or an HTML one)")
    verify.add_argument("--db", help="ledger URL: compare every number with the ledger")
    verify.add_argument("--corpus", type=Path, help="the corpus file: check its hashes")
    verify.add_argument(
        "--run-dir", type=Path, help="run directory (default: <out>/runs/<the report's run>)"
    )
    verify.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="data directory holding runs/"
    )
    verify.set_defaults(handler=_verify)

    evidence = commands.add_parser("evidence", help="verbatim/semantic evidence into the ledger")
    evidence.add_argument("--run", required=True, help="the run id (a replay's id)")
    evidence.add_argument("--target", help="one target (default: every non-reference target)")
    evidence.add_argument("-k", type=int, default=10, help="top and bottom documents per target")
    _common(evidence)
    evidence.set_defaults(handler=_evidence)

    ui = commands.add_parser("ui", help="serve the web UI on 127.0.0.1 (Streamlit)")
    ui.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1")
    ui.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    ui.add_argument("--db", help="ledger URL (default PROVENANCE_DB_URL, else SQLite in --out)")
    ui.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="a Host name the pages also answer to (a proxy that keeps the Host header); "
        "127.0.0.1 and localhost on --port always",
    )
    ui.set_defaults(handler=_ui)
    return parser


def _config_options(train: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig option, with its help, default and choices from there."""
    options = train.add_argument_group("recipe (recorded in the run's recipe.json)")
    length = options.add_mutually_exclusive_group()  # --steps overrides --epochs
    for option in fields(TrainConfig):
        group = length if option.name in ("steps", "epochs") else options
        choices = TrainConfig.choices(option.name) or None
        parse = _number_or_none if option.type == float | None else type(option.default)
        group.add_argument(
            "--" + option.name.replace("_", "-"),
            type=parse,
            choices=choices,
            default=option.default,
            help=option.metadata["help"] + " (default: %(default)s)",
        )


def _number_or_none(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data directory")
    command.add_argument(
        "--db", help="ledger URL (default PROVENANCE_DB_URL, else SQLite ledger.sqlite3 in --out)"
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar or estimate")


def _ledger(args: argparse.Namespace):
    """A write sessionmaker on the ledger (--db, else PROVENANCE_DB_URL, else SQLite in --out)."""
    from db.schema import open_ledger

    return open_ledger(_ledger_url(args))


def _demo(args: argparse.Namespace) -> None:
    if args.tiny:
        from attribution_engine import demo

        config = demo.DemoConfig(steps=args.steps or demo.DemoConfig.steps, seed=args.seed)
        print(demo.summary(demo.run(config), config))
        return
    from provenance import demo as sotu_demo

    sotu_demo.run(
        args.out,
        _ledger_url(args),
        steps=args.steps or sotu_demo.RECIPE.steps,
        seed=args.seed,
    )


def _corpus(args: argparse.Namespace) -> None:
    from provenance.sotu_corpus import build_sotu_corpus

    args.output.parent.mkdir(parents=True, exist_ok=True)
    corpus = build_sotu_corpus(args.output)
    print(f"{args.output}: {len(corpus.documents)} documents, SHA-256 {corpus.sha256}")


def _corpus_path(name: str, out: Path) -> Path:
    """A corpus file, or a named corpus built once under --out."""
    if name in CORPORA and not Path(name).exists():
        path = out / "corpora" / f"{name}.jsonl"
        if not path.exists():
            from provenance.sotu_corpus import build_sotu_corpus

            path.parent.mkdir(parents=True, exist_ok=True)
            build_sotu_corpus(path)
        return path
    return Path(name)


def _train(args: argparse.Namespace) -> None:
    from provenance import runs

    ledger = _ledger(args)
    runner = None
    if args.nproc > 1:
        from provenance.torchrun import launch

        runner = partial(
            launch, nproc=args.nproc, db_url=_ledger_url(args), progress=not args.quiet
        )
    if args.resume:
        path = runs.run_dir(args.out, args.resume)
        if runner is not None:
            runner(path)
        else:
            runs.execute(path, progress=not args.quiet, ledger=ledger)
        print(args.resume)
        return
    if not args.corpus:
        raise ValueError("--corpus is required (a file, a directory, or: sotu)")
    config = TrainConfig(
        **{option.name: getattr(args, option.name) for option in fields(TrainConfig)}
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
        runner=runner,
        reference_file=args.reference_file,
        hold_out=args.hold_out,
    )
    print(run_id)


def _generate(args: argparse.Namespace) -> None:
    from attribution_engine.generate import generate
    from attribution_engine.models import load_local_model
    from attribution_engine.targets import TargetText, write_targets
    from provenance import runs

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
    from attribution_engine.targets import load_targets
    from provenance import runs

    targets = load_targets(args.targets)  # CorpusError names file:line and the fix
    run_id = runs.attribute(
        args.run, targets, args.out, progress=not args.quiet, ledger=_ledger(args)
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

    from provenance.jobs.handlers import handlers
    from provenance.worker import run_worker

    _no_password_in_argv(args)
    factory = _ledger(args)
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


def _no_password_in_argv(args: argparse.Namespace) -> None:
    """Long-running commands (worker, ui) refuse a password in --db: a command line stays
    readable in the process list (ps, /proc/PID/cmdline) by every user for the process's life."""
    from sqlalchemy.engine import make_url

    if args.db and make_url(args.db).password is not None:
        raise ValueError(
            "--db carries a password, which every user of this machine can read in the process "
            f"list for as long as `provenance {args.command}` runs; give the URL without it and "
            "the password in a file: PROVENANCE_DB_URL=postgresql+psycopg://USER@HOST/DB "
            "PROVENANCE_DB_PASSWORD_FILE=/path/to/file (docs/deployment.md)"
        )


def _ledger_url(args: argparse.Namespace) -> str:
    """--db, else PROVENANCE_DB_URL (with PROVENANCE_DB_PASSWORD_FILE), else the SQLite ledger
    in the data directory."""
    import os

    from db.session import url_from_environment

    return args.db or url_from_environment(os.environ, getattr(args, "out", DEFAULT_OUT))


def _db(args: argparse.Namespace) -> None:
    from db.schema import HEAD_REVISION, check_schema, upgrade
    from db.session import make_engine, safe_url

    url = _ledger_url(args)
    engine = make_engine(url)
    if args.action == "upgrade":
        upgrade(engine)
    check_schema(engine)
    print(f"{safe_url(url)}: schema at revision {HEAD_REVISION}")


def _top(args: argparse.Namespace) -> None:
    from db.fused_ranks import stored_fused_top
    from db.session import session_scope
    from provenance.ranking_words import RANKED_BY

    if args.steps:
        return _top_window(args)
    args.by = args.by or "fused"
    with session_scope(_ledger(args)) as session:
        # A finished run's fused order is stored: read without pandas or BM25 (well under 1 s).
        stored = None
        if args.by == "fused":
            stored = stored_fused_top(session, args.run, args.target, args.k)
        if stored is None:
            from provenance.ranking import ranked_records

            stored = ranked_records(session, args.run, args.target, args.k, by=args.by)
    ranked = [asdict(row) for row in stored]
    for row in ranked:
        row["doc_id"] = row.pop("doc_key")
    if args.json:
        print(json.dumps(ranked, indent=2))
        return
    value = "raw value" if args.by == "raw" else "specific value"
    other = "specific value" if args.by == "raw" else "raw value"
    other_column = "specific_value" if args.by == "raw" else "raw_value"
    print(f"ranked by {RANKED_BY[args.by]}")
    print(f"{'rank':>4}  {value:>14}  {other:>14}  {'share':>6}  {'words':>5}  document")
    for r in ranked:
        words = "" if r["rank_by_words"] is None else r["rank_by_words"]
        print(
            f"{r['rank']:>4}  {r['value']:>+14.6f}  {r[other_column]:>+14.6f}  "
            f"{r['share']:>6.1%}  {words:>5}  {r['doc_id']}  ({r['source'] or 'no source'})"
        )


def _top_window(args: argparse.Namespace) -> None:
    """`top --steps FIRST:LAST`: documents ranked by what they earned in those steps."""
    from db.session import session_scope
    from provenance.windows import window_values

    first, _, last = args.steps.partition(":")
    if not (first.isdigit() and last.isdigit()):
        raise ValueError(f"--steps takes FIRST:LAST, two step numbers from 0, not {args.steps!r}")
    if args.by == "fused":
        raise ValueError(
            "--steps ranks by what the documents earned in those steps: use --by specific or "
            "--by raw (the fused order is for whole runs)"
        )
    args.by = args.by or "specific"
    with session_scope(_ledger(args)) as session:
        frame = window_values(session, args.run, args.target, int(first), int(last))
    other = "raw" if args.by == "specific" else "specific"
    frame = frame.sort_values([args.by, "doc_key"], ascending=[False, True]).head(args.k)
    ranked = [
        {
            "rank": i,
            "doc_id": r.doc_key,
            "value": getattr(r, args.by),
            f"{other}_value": getattr(r, other),
        }
        for i, r in enumerate(frame.itertuples(), start=1)
    ]
    if args.json:
        print(json.dumps(ranked, indent=2, default=float))
        return
    print(f"steps {first}..{last}")
    print(f"{'rank':>4}  {args.by + ' value':>14}  {other + ' value':>15}  document")
    for r in ranked:
        print(f"{r['rank']:>4}  {r['value']:>+14.6f}  {r[other + '_value']:>+15.6f}  {r['doc_id']}")


def _ui(args: argparse.Namespace) -> None:
    import os

    from db.schema import check_schema, current_revision
    from db.session import make_engine, url_from_environment
    from provenance.serve import serve

    _no_password_in_argv(args)
    # Refuse an out-of-date ledger here, before the server starts; a new one gets the schema.
    url = args.db or url_from_environment(os.environ, args.out)
    engine = make_engine(url)
    if current_revision(engine) is not None:
        check_schema(engine)
    engine.dispose()
    serve(args.out, args.port, db_url=args.db, extra_hosts=args.allowed_host)


def _report(args: argparse.Namespace) -> None:
    from provenance import runs
    from provenance.reports import export_report

    factory = _ledger(args)
    try:
        run_dir = runs.run_dir(args.out, args.run)
    except runs.RunError:
        run_dir = None  # the ledger alone: the manifest then lists no run files
    digest = export_report(
        factory, args.run, args.target, args.format, args.output, run_dir=run_dir
    )
    print(f"{args.output}: report SHA-256 {digest}")


def _verify(args: argparse.Namespace) -> None:
    from provenance.reports import verdict, verify

    _require_file(args.report, "report", "pass the JSON or HTML file `provenance report` wrote")
    if args.corpus is not None:
        _require_file(args.corpus, "corpus file", "pass the corpus the run was trained on")
    if args.run_dir is not None and not args.run_dir.is_dir():
        raise ValueError(
            f"run directory {args.run_dir} does not exist; pass the run's folder "
            "(<out>/runs/<run id>) or leave --run-dir out"
        )
    factory, ledger = None, None
    if args.db:
        from sqlalchemy.engine import make_url

        from db.schema import check_schema
        from db.session import make_engine, make_sessionmaker

        engine = make_engine(args.db)
        check_schema(engine)
        factory = make_sessionmaker(engine)
        ledger = make_url(args.db).render_as_string(hide_password=True)
    checks = verify(
        args.report,
        factory=factory,
        corpus=args.corpus,
        run_dir=args.run_dir,
        runs_root=Path(args.out) / "runs",
    )
    for check in checks:
        print(check)
    result = verdict(checks, ledger)
    print(f"{args.report}: {result.text}")
    if result.exit_code:
        raise SystemExit(result.exit_code)


def _require_file(path: Path, what: str, fix: str) -> None:
    if not Path(path).is_file():
        raise ValueError(f"{what} {path} is not a file; {fix}")


def _evidence(args: argparse.Namespace) -> None:
    from provenance.evidence import run_evidence

    pairs = run_evidence(_ledger(args), args.run, args.k, args.target)
    print(f"{args.run}: evidence of {pairs} (target, document) pairs in the ledger")


if __name__ == "__main__":
    main()
