"""The preview: the timeline's sound and our tracks mixed down to a WAV, and muxed under the picture."""
