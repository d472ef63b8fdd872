"""The write-back driver: chunks sent as bulk write jobs, resumable, reconciled."""
