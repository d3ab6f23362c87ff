"""Runs: queue a training run or an attribution replay, and watch the jobs."""

import streamlit as st

from app import data, jobs_view, ui
from provenance import pending
from provenance.jobs import PayloadError
from provenance.jobs.forms import TINY_MODEL, attribute_job, default, help_text, train_job
from provenance.uploads import CORPUS_TYPES, UploadError, save_corpus

ACCOUNTING = {"auto": "Adam-aware (default)", "sgd_proxy": "SGD proxy (the paper's)"}


def _number(column, label: str, low: int, high: int, field: str, key: str) -> int:
    """A whole-number input for the TrainConfig field `field`: its default and help from there."""
    return int(
        column.number_input(label, low, high, default(field), key=key, help=help_text(field))
    )


url = ui.page("Runs")
out = data.data_dir()
roots = data.roots()
runs = data.runs(url)

st.caption("The UI only queues jobs; `provenance worker` executes them and reports progress.")
train_tab, replay_tab = st.tabs(["Train with attribution", "Replay with new targets"])
# Corpora and models are chosen from the server's corpus and model folders (or uploaded into
# the corpus folder), never typed as paths: the worker reads nothing else.
with train_tab, st.expander("Upload a corpus (JSONL or CSV)"):
    upload = st.file_uploader("Corpus file", type=list(CORPUS_TYPES), key="runs_corpus_file")
    if upload is not None and st.button("Add this corpus", key="runs_corpus_add"):
        try:
            saved = save_corpus(upload.name, upload.getvalue(), roots.corpora)
        except UploadError as err:
            ui.error(err)
        else:
            st.success(f"Added the corpus as {saved.name}; choose it below.")
with train_tab, st.form("runs_train_form"):
    corpus = st.selectbox(
        "Corpus (from the server's corpus folder)",
        roots.corpus_choices(),
        key="runs_corpus_choice",
        help="JSONL and CSV files and folders of .txt files in the data directory's corpora/ "
        "folder, where uploads land too. An operator adds others there.",
    )
    models = roots.model_choices()
    # A model folder is worth choosing only when the server has one; otherwise say what the
    # run trains, and where an operator adds models.
    if len(models) > 1 and st.toggle(
        "Fine-tune a model from the server's model folder (advanced)",
        key="runs_advanced",
        help="Hugging Face model folders (with config.json) in the data directory's models/ "
        f"folder. Off: {TINY_MODEL}, a small GPT-2 trained from scratch on the corpus.",
    ):
        model = st.selectbox(
            "Model folder",
            models,
            key="runs_model",
            help=f"{TINY_MODEL}: trained from scratch; any other: a model folder to fine-tune.",
        )
    else:
        model = TINY_MODEL
        st.caption(
            f"Model: {TINY_MODEL}, a small GPT-2 trained from scratch with its own tokenizer. "
            "To fine-tune another, an operator puts its folder in the data directory's models/."
        )
    cols = st.columns(5)
    steps = _number(cols[0], "Steps (0: by epochs)", 0, 1_000_000, "steps", "runs_steps")
    order = cols[1].selectbox(
        "Order",
        [1, 2],
        index=[1, 2].index(default("order")),
        key="runs_order",
        help=help_text("order"),
    )
    seed = _number(cols[2], "Seed", 0, 2**31 - 1, "seed", "runs_seed")
    batch = _number(cols[3], "Rows per step", 1, 4096, "batch_rows", "runs_batch")
    accounting = cols[4].selectbox(
        "Values credit",
        list(ACCOUNTING),
        index=list(ACCOUNTING).index(default("accounting")),
        format_func=ACCOUNTING.get,
        key="runs_accounting",
        help=help_text("accounting"),
    )
    if st.form_submit_button("Queue training run", type="primary"):
        try:
            job = data.enqueue(
                train_job(
                    roots,
                    corpus or "",
                    model,
                    steps=steps,
                    order=int(order),
                    seed=seed,
                    batch_rows=batch,
                    accounting=accounting,
                )
            )
        except ValueError as err:
            ui.error(err)
        else:
            st.success(f"Queued training job {job}.")

with replay_tab:
    parents = runs[(runs["kind"] == "train") & (runs["status"] == "done")]
    files = sorted(p.name for p in pending.uploads_dir(out).glob("*.jsonl"))
    if parents.empty or not files:
        st.caption("Needs a finished training run and targets added on **Targets**.")
    else:
        parent = st.selectbox("Run to replay", list(parents["run_key"]), key="runs_parent")
        chosen = st.selectbox(
            "Targets file (added on Targets)",
            files,
            key="runs_targets_file",
            help="The targets added together on the Targets page, saved as one file each time.",
        )
        try:
            from_file = pending.targets_file(out, chosen)
            generated = [t.id for t in from_file] if pending.is_generated(chosen) else []
            replay = attribute_job(parent, from_file, generated)
        except (PayloadError, ValueError) as err:  # the file is gone, or its targets clash
            ui.error(err)
        else:
            n_targets = len(replay.targets)
            st.info("Estimated cost: " + pending.replay_estimate(out, parent, n_targets))
            st.caption("Queue: " + pending.queue_preview(data.open_jobs(url, "attribute"), replay))
            if st.button("Confirm and queue replay", key="runs_queue_replay"):
                job = data.enqueue(replay)
                st.success(f"Queued attribution job {job}.")

st.subheader("Jobs")
jobs_view.live_jobs("runs")
st.subheader("Runs")
if ui.table(runs, "No runs yet.", key="runs_table"):
    failed = runs[runs["status"] == "failed"]
    if not failed.empty:
        st.warning(f"{len(failed)} run(s) failed; their jobs' messages are in the table above.")
