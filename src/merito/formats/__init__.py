"""Wire formats <-> domain, pure: JSON-LD contexts, multibase, DIDs, OB 3.0, status lists."""
