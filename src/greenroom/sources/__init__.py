"""Sources: where frames come from (image files and folders, video files, cameras)."""
