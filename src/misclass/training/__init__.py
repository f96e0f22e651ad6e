"""Training architectures with one set of hyperparameters (extra ``torch``): the loop
(:mod:`misclass.training.loop`) and a run that trains, predicts with the engine and stores the
test predictions (:mod:`misclass.training.run`). Training returns its history; the report
draws it. ``misclass.train(...)`` (:func:`misclass.workflows.train.train`) runs it."""
