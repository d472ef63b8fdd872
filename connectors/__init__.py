"""Zoho CRM and Zoho Recruit clients: auth, HTTP core, credits, metadata, bulk read/write, REST.

No Prefect imports here: this is a library a data engineer can use on its own.
"""
