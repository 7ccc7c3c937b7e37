"""A local emulator of the Claude Messages API; imports nothing from Strata."""
