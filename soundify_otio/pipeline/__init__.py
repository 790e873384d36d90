"""Orchestration: the stages run over a timeline's shots, with the frame cache beside them; the choices file."""
