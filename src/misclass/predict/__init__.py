"""Producing predictions: the builtin zoo, importers for foreign prediction files."""
