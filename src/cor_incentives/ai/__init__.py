"""The AI shell: the sentence-embedding model, Proof of Inference distances and the PoUW quality scorer.

Floats live only in here, for the model math; every public result that leaves this package for the
core is an integer (ppb). Models load offline from installed PyPI packages, never from a hub.
"""
