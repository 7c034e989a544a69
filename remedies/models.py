"""Making it right: agency contacts, compensation agreements, visits, the ledger, documents.

Depends on cases/, never the reverse at import time (DESIGN.md, Boundaries). The models
arrive with the remedy workflow.
"""
