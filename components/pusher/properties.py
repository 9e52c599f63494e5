"""What the Pusher records on its PushedModel beyond TFX's own properties, for the tools that
read runs (which import no TFX)."""

from __future__ import annotations

# 1: this push copied a new version; 0: the newest version already held this model (a rerun, or
# a push whose record a killed run never made), so nothing new was published.
NEW_VERSION_KEY = "new_version"
