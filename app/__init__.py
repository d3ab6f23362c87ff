"""The Streamlit pages and their widgets: thin pages over provenance/ and the ledger."""
