"""The CLI as a client of a running server (`--url` / `STRATA_URL`).

Nothing here loads the embedding model, Chroma, the Claude SDK, the emulator or the settings
model (an import contract in pyproject.toml holds it, and tests check what a client process
imports), so a command sent to a server starts in a fraction of a second and prints what the
local command prints.
"""
