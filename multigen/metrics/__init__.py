"""Domain-free evaluation statistics; domains supply the features and distances."""

from .classifier import (
    accuracy,
    am_score,
    cache_root,
    data_fingerprint,
    fit_classifier,
    inception_score,
    modified_inception_score,
    ndb,
    predict_proba,
)
from .distributions import energy_distance, sliced_wasserstein, total_variation, wasserstein_1d
from .frechet import feature_statistics, frechet_distance, frechet_distance_features
from .kernel import kid, mmd2_unbiased
from .knn import precision_recall
from .nna import mmd_coverage, one_nna

__all__ = [
    "accuracy",
    "am_score",
    "cache_root",
    "data_fingerprint",
    "energy_distance",
    "feature_statistics",
    "fit_classifier",
    "frechet_distance",
    "frechet_distance_features",
    "inception_score",
    "kid",
    "mmd2_unbiased",
    "mmd_coverage",
    "modified_inception_score",
    "ndb",
    "one_nna",
    "precision_recall",
    "predict_proba",
    "sliced_wasserstein",
    "total_variation",
    "wasserstein_1d",
]
