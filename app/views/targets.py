"""Targets: add the texts to explain (typed, uploaded or generated), see their status, and
queue their attribution (a replay of the run, executed by `provenance worker`)."""

import streamlit as st

from app import data, generation, ui
from provenance import pending
from provenance.jobs import PayloadError
from provenance.jobs.forms import attribute_job
from provenance.uploads import (
    MAX_UPLOAD_BYTES,
    UPLOAD_TYPES,
    UploadError,
    generated_target,
    parse_text_box,
    save_targets,
)

url = ui.page("Targets")
out = data.data_dir()
runs = data.runs(url)


def _add(targets, generated: bool = False) -> None:
    path = save_targets(targets, out, generated=generated)
    st.success(f"Added {len(targets)} target(s); they wait below until attributed.")
    st.caption(f"Saved as {path.name}")


st.subheader("Add a target")
typed, uploaded, generated = st.tabs(["Type or paste", "Upload a file", "Generate from a model"])
with typed, st.form("targets_typed_form", clear_on_submit=False):
    body = st.text_area("Target text (the model output to explain)", key="targets_text")
    prompt = st.text_input("Prompt that produced it (optional, not scored)", key="targets_prompt")
    target_id = st.text_input("Id (optional)", key="targets_id")
    if st.form_submit_button("Add target"):
        try:
            _add(parse_text_box(body, prompt, target_id))
        except UploadError as err:
            ui.error(err)
with uploaded:
    st.caption(
        f"A .txt file is one target; a .jsonl file has one object per line with `id`, `text` "
        f"and optional `prompt`. At most {MAX_UPLOAD_BYTES // 2**20} MB."
    )
    file = st.file_uploader("Targets file", type=list(UPLOAD_TYPES), key="targets_file")
    if file is not None:
        try:
            parsed = data.parsed_upload(file.name, file.getvalue())
        except UploadError as err:
            ui.error(err)
        else:
            st.dataframe(
                [{"id": t.id, "prompt": t.prompt or "", "text": t.text} for t in parsed],
                hide_index=True,
                width="stretch",
            )
            if st.button(f"Add these {len(parsed)} target(s)", key="targets_add_file"):
                _add(parsed)
with generated:
    with_models = generation.runs_with_models(out, list(runs["run_key"]))
    if not with_models:
        st.caption(f"No finished run with its model under {out}/runs yet.")
    else:
        with st.form("targets_generate_form"):
            run_key = st.selectbox("Run whose model writes", with_models, key="targets_gen_run")
            gen_prompt = st.text_input("Prompt", key="targets_gen_prompt")
            tokens = st.slider("New tokens", 8, 128, 48, key="targets_gen_tokens")
            seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="targets_gen_seed")
            if st.form_submit_button("Generate"):
                text = generation.sample(out, run_key, gen_prompt, tokens, int(seed))
                st.session_state["targets_generated"] = (gen_prompt, text)
        if "targets_generated" in st.session_state:
            gen_prompt, text = st.session_state["targets_generated"]
            ui.show_text(text, empty="(the model produced nothing; try another seed)")
            if text.strip() and st.button("Use this as a target", key="targets_use_generated"):
                try:
                    _add([generated_target(text, gen_prompt)], generated=True)
                except (UploadError, ValueError) as err:
                    ui.error(err)

st.subheader("Waiting for attribution")
waiting = pending.pending_table(
    list(data.pending_targets(out)), data.targets(url), data.open_jobs(url, "attribute")
)
ui.table(waiting, "Nothing added yet.", key="targets_pending_table")

st.subheader("Queue attribution")
choosable = waiting[waiting["status"] == "not attributed"] if not waiting.empty else waiting
parents = runs[(runs["kind"] == "train") & (runs["status"] == "done")]
if choosable.empty or parents.empty:
    st.caption("Needs a finished training run and at least one target not yet attributed.")
else:
    chosen = st.multiselect(
        "Targets to attribute",
        list(choosable["id"]),
        default=list(choosable["id"]),
        key="targets_chosen",
    )
    parent = st.selectbox("Replay run", list(parents["run_key"]), key="targets_parent")
    if chosen:
        waiting_files = list(data.pending_targets(out))
        picked = [t for t, _ in waiting_files if t.id in set(chosen)]
        try:
            replay = attribute_job(
                parent, picked, pending.generated_ids(waiting_files, set(chosen))
            )
        except PayloadError as err:  # two chosen targets share an id, or too many
            ui.error(err)
        else:
            st.info("Estimated cost: " + pending.replay_estimate(out, parent, len(chosen)))
            st.caption("Queue: " + pending.queue_preview(data.open_jobs(url, "attribute"), replay))
            if st.button("Confirm and queue attribution", key="targets_queue", type="primary"):
                job = data.enqueue(replay)
                st.success(f"Queued attribution job {job}; follow it on Overview or Runs.")

st.subheader("Targets in the ledger")
in_ledger = data.targets(url)
if ui.table(in_ledger, "No targets attributed yet.", key="targets_ledger_table"):
    ui.downloads(in_ledger, "targets", "targets")
