"""The shareable HTML report: sections (one module each under ``sections/``), figures, the builder.

``misclass.report(store, out=...)`` calls the report workflow
(:func:`misclass.workflows.report.report`), which renders every section with
:func:`misclass.report.build.render_report`.
"""
