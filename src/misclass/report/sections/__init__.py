"""Report sections: each module registers one section with :mod:`misclass.report.registry`."""
