"""Process start-up and the worker's cross-cutting machinery. Nothing in the layers below imports this package."""
