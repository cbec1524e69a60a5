"""The only code that signs or verifies, on plain JSON; knows nothing of Open Badges."""
