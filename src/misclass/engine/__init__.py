"""The torch engine (extra ``torch``): model specs and architectures, preprocessing, devices,
checkpoints, one pass over a dataset for several models with resumable shards and MC dropout
(:mod:`misclass.engine.core`), and its Ray variant (:mod:`misclass.engine.ray_engine`).
``misclass.predict(store, data=..., models=...)`` (:func:`misclass.workflows.predict.predict`)
runs it."""
