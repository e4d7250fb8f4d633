"""scikit-learn's searches over the estimators in parallel: GridSearchCV, RandomizedSearchCV and
cross_val_score with n_jobs (joblib's process pool), the same grid on a local Dask cluster of
worker processes (joblib's dask backend) and, where Ray is installed, under Ray's joblib backend,
and an Optuna study. Parallel results must equal the
serial ones: the same seeds give the same fits, whichever process runs them."""

import concurrent.futures
import importlib.util
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold, cross_val_score

from wgpu_mlp import MLPClassifier

# 2 × 2 × 2 = 8 candidates
GRID = {"hidden_layer_sizes": [(4,), (8,)], "learning_rate_init": [0.01, 0.05], "alpha": [1e-4, 1e-1]}
# a search that hangs (a worker that never answers) fails here instead of stalling CI
DEADLINE_S = 300


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X / X.max(axis=0), y


def _grid(n_jobs):
    # minibatches, so the epoch order (from the seed) shapes every fit
    est = MLPClassifier(max_iter=40, batch_size=20, random_state=0, device="cpu")
    return GridSearchCV(est, GRID, cv=KFold(3, shuffle=True, random_state=0), n_jobs=n_jobs)


def _results(search):
    r = search.cv_results_
    keys = [k for k in r if k.startswith("split") or k in ("mean_test_score", "std_test_score", "rank_test_score")]
    return {k: np.asarray(r[k]) for k in keys}, [str(p) for p in r["params"]]


def _assert_same(a, b):
    (sa, pa), (sb, pb) = _results(a), _results(b)
    assert pa == pb
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def _fit_quietly(search, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


def _with_deadline(f):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(f).result(timeout=DEADLINE_S)
    finally:
        # not `with`: its exit would wait for a search that hangs
        pool.shutdown(wait=False)


def test_grid_search_on_a_local_dask_cluster_equals_the_serial_search(iris):
    distributed = pytest.importorskip("dask.distributed")
    X, y = iris
    serial = _fit_quietly(_grid(1), X, y)
    assert len(serial.cv_results_["params"]) == 8

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:

            def search():
                # joblib's backend setting is per thread: set it in the thread that fits
                with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as tasks:
                    s = _fit_quietly(_grid(-1), X, y)
                return s, tasks.data

            parallel, tasks = _with_deadline(search)
            workers = {t["worker"] for t in tasks}
    # the 24 fits ran as tasks (joblib batches several fits into one) on both worker processes
    assert len(tasks) >= 2 and len(workers) == 2, (len(tasks), workers)
    _assert_same(serial, parallel)
    assert parallel.best_params_ == serial.best_params_


def test_grid_search_under_rays_joblib_backend_equals_the_serial_search(iris):
    # Ray is not in CI's install (a large wheel); this runs wherever it is installed
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, y = iris
    serial = _fit_quietly(_grid(1), X, y)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()

        def search():
            with joblib.parallel_backend("ray"):
                return _fit_quietly(_grid(-1), X, y)

        parallel = _with_deadline(search)
    finally:
        ray.shutdown()
    _assert_same(serial, parallel)


def test_searches_with_n_jobs_equal_the_serial_ones(iris):
    X, y = iris
    _assert_same(_fit_quietly(_grid(1), X, y), _with_deadline(lambda: _fit_quietly(_grid(2), X, y)))

    def randomized(n_jobs):
        est = MLPClassifier(max_iter=30, batch_size=20, device="cpu", random_state=1)
        space = {"hidden_layer_sizes": [(3,), (6,), (12,)], "learning_rate_init": [0.003, 0.01, 0.03, 0.1]}
        return RandomizedSearchCV(est, space, n_iter=5, cv=3, random_state=0, n_jobs=n_jobs)

    _assert_same(_fit_quietly(randomized(1), X, y), _with_deadline(lambda: _fit_quietly(randomized(2), X, y)))

    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, batch_size=20, random_state=0, device="cpu")
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = cross_val_score(est, X, y, cv=cv)
        parallel = _with_deadline(lambda: cross_val_score(est, X, y, cv=cv, n_jobs=2))
    np.testing.assert_array_equal(serial, parallel)


def test_optuna_example_finds_a_good_network(iris):
    pytest.importorskip("optuna")
    path = Path(__file__).resolve().parents[1] / "examples" / "optuna_search.py"
    spec = importlib.util.spec_from_file_location("optuna_search", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = example.study(X, y, trials=4, device="cpu", max_iter=60)
        again = example.study(X, y, trials=4, device="cpu", max_iter=60)
    assert len(study.trials) == 4 and study.best_value > 0.8
    # the same sampler seed and estimator seeds: the same study
    assert [t.value for t in study.trials] == [t.value for t in again.trials]
