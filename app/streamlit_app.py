"""The Streamlit entry point: page navigation only. Run with `provenance ui`."""

import streamlit as st

from app import ui

st.set_page_config(page_title="Provenance", layout="wide")
ui.require_allowed_host()  # before any page: a DNS-rebinding page gets an error, no forms

pages = [
    st.Page("views/overview.py", title="Overview", default=True),  # served at /
    st.Page("views/targets.py", title="Targets", url_path="targets"),
    st.Page("views/attribution.py", title="Attribution", url_path="attribution"),
    st.Page("views/documents.py", title="Documents", url_path="documents"),
    st.Page("views/sources.py", title="Sources", url_path="sources"),
    st.Page("views/health.py", title="Corpus health", url_path="health"),
    st.Page("views/runs.py", title="Runs", url_path="runs"),
    st.Page("views/downloads.py", title="Downloads", url_path="downloads"),
]
st.navigation(pages).run()
