"""Report sections: each module registers one section with :mod:`misclass.report.registry`.

``ORDER`` is the order of the page (a new module goes in it, or it is not shown). The report
builds the sections of ``BUILD_FIRST`` first: their figures take longest to draw (seven
failure figures of three panels each on ImageNet, the factors' grid of bars), so the figure
workers draw them while the other sections compute instead of after the last one.
"""

ORDER = ("summary", "confusion", "crossmodel", "labels", "label_issues", "shift", "factors", "failure",
         "explain", "gallery")
BUILD_FIRST = ("summary", "confusion", "failure", "factors")
