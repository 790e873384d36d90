"""Audio: the bounds every sound file's header must keep before anything is allocated from it (headers);
stretches of media files' sound decoded and mixed to one signal (decode), where in it someone speaks
(speech, Silero VAD) and how loud it is (loudness). Which stretches a timeline plays is timeline/sound.py."""
