"""How far :func:`~misclass.analysis.combinations.search_combinations` goes before it stops
listing every combination, and before it gives up exact search for greedy.

Plain numbers in a module that imports nothing, so the command line can show them as option
defaults without loading numpy (``misclass compare --help``).
"""

#: Sizes with at most this many combinations are enumerated and every value listed.
LIST_LIMIT = 200_000
#: Sizes with at most this many combinations get an exact best (branch and bound); beyond: greedy.
MAX_COMBINATIONS = 50_000_000
