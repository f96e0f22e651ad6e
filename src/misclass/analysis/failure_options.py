"""The learned failure predictors :func:`~misclass.analysis.failure.analyze_failures` offers.

Plain names in a module that imports nothing, so the command line can list them in its help
without loading scikit-learn (``misclass failure --help``).
"""

#: Learned predictors: a balanced logistic regression on standardised inputs, or gradient
#: boosting (scikit-learn's HistGradientBoostingClassifier).
LEARNERS = ("logistic", "boosting")
