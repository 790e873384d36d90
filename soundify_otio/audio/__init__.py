"""The timeline's own sound: where it comes from (timeline_sound), how it is decoded and mixed (decode),
and where in it someone speaks (speech, Silero VAD)."""
