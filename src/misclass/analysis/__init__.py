"""Pure analysis functions: arrays in, frozen dataclasses or DataFrames out."""
