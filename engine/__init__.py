"""The sync engine: ledger, page walk, extract and write drivers, planning, budget.

No Prefect and no rich here: ``flows`` wraps these calls in tasks, ``cli`` prints them."""
