"""Producing predictions: the builtin zoo, importers for foreign prediction files, the torch
engine, training.

``misclass.predict(store, data=..., models=...)`` calls the predict workflow
(:func:`misclass.workflows.predict.predict`); this package is what it runs.
"""
