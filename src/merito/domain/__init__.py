"""Pure domain model: no I/O, no clocks, no randomness of its own."""
