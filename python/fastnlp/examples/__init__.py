"""Runnable end-to-end examples: python -m fastnlp.examples.<name>."""
