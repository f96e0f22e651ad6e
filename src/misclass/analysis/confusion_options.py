"""Defaults of the confusion analysis (:mod:`misclass.analysis.confusion`).

Plain numbers in a module that imports nothing, so the command line can show them as option
defaults without loading numpy (``misclass confusion --help``).
"""

#: Network edge threshold: an edge i -> j where v(j|i) >= this.
DEFAULT_THRESHOLD = 0.3
#: Rows of the per-model tables (worst classes, top confusions) and of the universal patterns.
DEFAULT_TOP_CLASSES = 10
