"""A local emulator of the Claude Messages API; imports nothing from Strata.

`create_app(EmulatorConfig(...))` gives an ASGI app that speaks the API's wire protocol, so
the real `anthropic` SDK can be pointed at it with `base_url`. Its parts:

- app.py routes; wire.py keys, versions, bodies, error responses; faults.py fault injection
- models.py the model table; tokens.py and images.py the approximate tokenizer
- validation.py, content_blocks.py, options.py, schemas.py request checks
- prompt.py cache order and breakpoints; cache.py the prompt cache; diagnostics.py
- answers.py, replies.py, thinking.py, instances.py what the assistant says
- messages.py the engine; streaming.py SSE; batches.py Message Batches
"""

from api.emulator.app import create_app
from api.emulator.clock import ScaledClock
from api.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "ScaledClock", "create_app"]
