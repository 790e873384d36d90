"""The editor's timeline: reading shots out of it, and writing the new tracks back into a copy."""
