"""Voice answers: audio limits, the transcription pipeline and its typed result."""
