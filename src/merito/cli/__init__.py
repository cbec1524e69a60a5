"""The ``merito`` command (typer + rich); printing happens only here."""
