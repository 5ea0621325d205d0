"""Picture enhancements applied to the camera's frames before segmentation (low light)."""
