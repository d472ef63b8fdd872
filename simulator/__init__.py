"""A local model of Zoho CRM and Zoho Recruit (OAuth, metadata, bulk and REST APIs, faults).

It imports nothing from ``connectors`` or ``transforms``: it is an independent model of Zoho,
so a misunderstanding of the API cannot hide on both sides at once.
"""
