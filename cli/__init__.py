"""The ``zoho-etl`` command line, the demo and the tables it prints."""
