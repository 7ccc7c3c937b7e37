"""A local emulator of the Claude Messages API; imports nothing from Strata.

`create_app(EmulatorConfig(...))` gives an ASGI app that speaks the API's wire protocol, so
the real `anthropic` SDK can be pointed at it with `base_url`.
"""

from api.emulator.app import create_app
from api.emulator.clock import ScaledClock
from api.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "ScaledClock", "create_app"]
