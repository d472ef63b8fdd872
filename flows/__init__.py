"""Prefect flows, blocks and the ``zoho-etl`` command line: thin wrappers over the libraries."""
