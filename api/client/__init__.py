"""The CLI as a client of a running server (`--url` / `STRATA_URL`).

Nothing here loads the embedding model, Chroma, the Claude SDK or the emulator (an import
contract in pyproject.toml holds it), so a command sent to a server starts in a fraction of a
second and prints what the local command prints.
"""
