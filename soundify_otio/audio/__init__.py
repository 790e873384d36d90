"""Audio: the bounds every sound file's header must keep before anything is allocated from it (headers);
the timeline's own sound, where it comes from (timeline_sound), how it is decoded and mixed (decode), where
in it someone speaks (speech, Silero VAD) and how loud it is (loudness)."""
