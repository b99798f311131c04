"""The library: models, losses, metrics, data and the training engine."""
