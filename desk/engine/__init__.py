"""The quoting engine: the core of desk. Imports nothing from desk but `desk.domain`."""
