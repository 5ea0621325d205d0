"""Jobs: whole runs assembled from sources, the processor and sinks.

`batch.run_batch` processes many files on all cores or a Ray cluster, with a manifest and resume.
"""
