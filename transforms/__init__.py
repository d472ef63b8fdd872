"""Pure data transformations: Zoho bulk CSVs to typed Arrow, Parquet and warehouse tables.

No network and no Prefect imports here.
"""
