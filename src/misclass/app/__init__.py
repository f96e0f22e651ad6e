"""The misclass app: explore which images the models get wrong, and review them.

Modules: :mod:`~misclass.app.web` (the FastAPI app, over :mod:`misclass.workflows.explore`
and the review app :mod:`misclass.review.web`), :mod:`~misclass.app.thumbs` (thumbnails
cached in the store), :mod:`~misclass.app.overlays` (saliency pictures); ``templates/`` and
``static/`` (plain JavaScript and CSS, shipped in the package). Needs
``pip install 'misclass[review]'``; ``import misclass`` never imports it.
"""
