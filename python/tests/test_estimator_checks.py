"""scikit-learn's own estimator checks over both estimators (CPU engine, small networks)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from wgpu_mlp import MLPClassifier, MLPRegressor, expected_failed_checks

# small and quick: the checks fit about a hundred times on data of up to a few hundred rows
SMALL = dict(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0, device="cpu")


@parametrize_with_checks(
    [MLPClassifier(**SMALL), MLPRegressor(**SMALL)], expected_failed_checks=expected_failed_checks
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
