"""Importers from other gateways' databases (One API and New API)."""
