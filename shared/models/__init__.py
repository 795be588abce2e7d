"""Pydantic contracts: stored records, events between components, and API responses.

A stored record is never an API response: each boundary has its own class even when two look
alike, so a column added to a table cannot leak through the API by accident.
"""
