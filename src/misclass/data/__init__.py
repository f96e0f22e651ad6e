"""Datasets and class metadata.

``load_dataset("digits")``, ``load_dataset("planted-digits")`` (digits with a planted
class-coloured patch, see :mod:`misclass.data.planted`), ``load_dataset("cifar10:PATH")``,
``load_dataset("folder:PATH")`` (or ``"folder:PATH,LABELS.csv"`` for a flat folder with a
``file_name,label`` CSV).
"""

from __future__ import annotations

from misclass.data.cifar import load_cifar10
from misclass.data.dataset import Dataset
from misclass.data.digits import load_digits
from misclass.data.folder import load_folder
from misclass.data.imagenet import imagenet_classes, imagenet_val_labels
from misclass.data.planted import load_planted_digits
from misclass.errors import InputError

DATASET_SPECS = "digits | planted-digits | cifar10:PATH | folder:PATH[,LABELS.csv]"


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """Load a dataset from its spec (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind == "digits" and not arg:
        return load_digits(seed=seed)
    if kind == "planted-digits" and not arg:
        return load_planted_digits(seed=seed)
    if kind == "cifar10" and arg:
        return load_cifar10(arg)
    if kind == "folder" and arg:
        path, _, csv = arg.partition(",")
        return load_folder(path, csv or None)
    raise InputError(f"dataset {spec!r}: expected {DATASET_SPECS}")


__all__ = [
    "DATASET_SPECS",
    "Dataset",
    "imagenet_classes",
    "imagenet_val_labels",
    "load_cifar10",
    "load_digits",
    "load_dataset",
    "load_folder",
    "load_planted_digits",
]
