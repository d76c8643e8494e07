"""Helpers the course notebooks import: model, data, image processing, plotting."""
