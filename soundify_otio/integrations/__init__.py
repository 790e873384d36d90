"""Integrations that run inside an editor (DaVinci Resolve's Workspace > Scripts)."""
