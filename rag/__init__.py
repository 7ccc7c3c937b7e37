"""Strata's core: retrieval, prompt layering, the Claude client, caching, pricing, the ledger."""
