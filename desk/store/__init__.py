"""Persistence adapters: the journal, strategy configs and secrets."""
