"""Predictions made elsewhere, read into a store: readers of foreign files (timm's CSVs,
tables, ``.npy`` probabilities or logits, prediction lists, people's votes) and the import into
the store (``misclass import``). No torch."""
