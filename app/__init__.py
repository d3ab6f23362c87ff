"""The Streamlit application: thin pages over the ledger (issue 5)."""
