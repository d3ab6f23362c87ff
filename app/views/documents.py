"""Documents: find a training document by id, title or text, and see what every run did with
it (app/document_view.py). A link can open one directly: `?corpus=ID&doc=DOCUMENT_ID`."""

import streamlit as st

from app import data, document_view, ui
from db.search import MAX_QUERY_CHARS, SEARCH_FIELDS, BadQuery

PAGE_ROWS = 50
FIELD_WORDS = {"any": "id, title or text", "id": "id", "title": "title", "text": "text"}

url = ui.page("Documents")
st.caption(
    "Was my document trained on, and what did it contribute? Search for it, then select it in "
    "the results."
)

if "doc" in st.query_params:  # a link: open that document once, then the page rules
    corpus_param, doc_param = st.query_params.get("corpus", ""), st.query_params["doc"]
    del st.query_params["doc"]
    if "corpus" in st.query_params:
        del st.query_params["corpus"]
    if corpus_param.isdigit():
        st.session_state[document_view.OPEN_STATE] = (int(corpus_param), doc_param)
    else:
        st.warning(
            f"The link names no corpus (corpus={ui.escape_markdown(corpus_param)}); search for "
            "the document instead."
        )

left, right = st.columns([3, 1])
query = left.text_input(
    "Search documents",
    max_chars=MAX_QUERY_CHARS * 4,  # a longer paste is refused below with the limit, not cut
    placeholder="part of a document id, a title, or a few words of its text",
    key="documents_query",
)
field = right.selectbox(
    "Search in", SEARCH_FIELDS, format_func=FIELD_WORDS.__getitem__, key="documents_field"
)

if query.strip():
    page_key = f"documents_page:{field}:{query}"  # a new search starts at page 1
    page = int(st.session_state.get(page_key, 1))
    try:
        found = data.search(url, query, field, PAGE_ROWS, (page - 1) * PAGE_ROWS)
    except BadQuery as err:
        ui.error(err)
    else:
        pages = max(1, -(-found.total // PAGE_ROWS))
        if found.total == 0:
            st.info(f"No document's {FIELD_WORDS[field]} contains that text.")
        else:
            if pages > 1:
                st.number_input(
                    f"Page (of {pages:,}, {PAGE_ROWS} documents each)", 1, pages, key=page_key
                )
            first = (page - 1) * PAGE_ROWS + 1
            matches = "document matches" if found.total == 1 else "documents match"
            last = first + len(found.hits) - 1
            st.caption(
                f"{found.total:,} {matches}; {first:,} to {last:,} shown. Select a row to open "
                "the document."
            )
            table_key = f"documents_results:{field}:{query}:{page}"
            ui.table(
                found.hits,
                "",
                column_config={
                    "doc_key": st.column_config.TextColumn("document id"),
                    "matched": st.column_config.TextColumn("matched in"),
                    "excerpt": st.column_config.TextColumn("text around the match"),
                },
                column_order=[
                    "doc_key",
                    "title",
                    "matched",
                    "excerpt",
                    "source",
                    "author",
                    "corpus",
                ],
                on_select="rerun",
                selection_mode="single-row",
                key=table_key,
            )
            row = ui.selected_row(table_key)
            if row is not None:
                hit = found.hits.iloc[row]
                st.session_state[document_view.OPEN_STATE] = (int(hit["corpus_id"]), hit["doc_key"])
elif document_view.OPEN_STATE not in st.session_state:
    st.caption(f"Type in the box to search the {data.totals(url).documents:,} documents.")

opened = st.session_state.get(document_view.OPEN_STATE)
if opened is not None:
    st.divider()
    document_view.show_document(url, *opened)
