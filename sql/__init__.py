"""The SQL the warehouse loaders run, one statement per file under ``sql/<dialect>/``.

A package only so the templates ship inside a wheel (read with ``importlib.resources``).
"""
