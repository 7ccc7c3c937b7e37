"""Request and response models: the wire contract of SPEC section 9, in one place."""

from __future__ import annotations
