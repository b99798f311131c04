"""Data: the VIDIT layout, the SynVIDIT renderer and the loaders."""
