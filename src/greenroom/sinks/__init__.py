"""Sinks: where results go (image files, video files, windows, virtual cameras)."""
