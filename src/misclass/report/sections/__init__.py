"""Report sections: each module registers one section with :mod:`misclass.report.registry`;
``ORDER`` is the order of the page (a new module goes in it, or it is not shown)."""

ORDER = ("summary", "confusion", "crossmodel", "labels", "label_issues", "shift", "factors", "failure",
         "explain", "gallery")
