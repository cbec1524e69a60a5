"""Use cases: one module per area, one function per use case."""
