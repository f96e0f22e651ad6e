"""The review web app: people mark which candidate labels of an image are correct, flag
problematic images and label images themselves; the decisions feed multi-label grading
(``misclass evaluate --labels review``).

Modules: :mod:`~misclass.review.schema` (database), :mod:`~misclass.review.selection`,
:mod:`~misclass.review.candidates`, :mod:`~misclass.review.aggregate` and
:mod:`~misclass.review.agreement` (pure functions), :mod:`~misclass.review.tasks`,
:mod:`~misclass.review.records`, :mod:`~misclass.review.people` and
:mod:`~misclass.review.export` (database operations), :mod:`~misclass.review.web` (the FastAPI
app). Needs ``pip install 'misclass[review]'``; nothing here is imported by ``import misclass``.
"""
