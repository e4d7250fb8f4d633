"""The estimators beyond scikit-learn's checks: parity with scikit-learn on digits, pickling,
partial_fit, multi-label and multi-output targets, errors, Ctrl-C, verbose, model files and the
CLI round trip, data layouts, and one GPU smoke test."""

import csv
import json
import os
import pickle
import subprocess
import sys
import threading
import _thread
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import wgpu_mlp
from wgpu_mlp import MLPClassifier, MLPRegressor

# the CLI binary for the round trip: $WGPU_MLP_CLI, else the repository's release or test build
_ROOT = Path(__file__).resolve().parents[2]
CLI = next(
    (p for p in [Path(os.environ.get("WGPU_MLP_CLI", "/nonexistent")), _ROOT / "target/release/wgpu-mlp",
                 _ROOT / "target/debug/wgpu-mlp"] if p.exists()),
    _ROOT / "target/release/wgpu-mlp",
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.mark.parametrize("solver,params", [("adam", {}), ("sgd", {"learning_rate_init": 0.1})])
def test_digits_parity_with_scikit_learn(digits, solver, params):
    # the same hyperparameters; mean test accuracy over three seeds (one digit is 0.19 points)
    Xtr, Xte, ytr, yte = digits
    ours, theirs = [], []
    for seed in range(3):
        kw = dict(hidden_layer_sizes=(64,), solver=solver, random_state=seed, max_iter=200, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours.append(MLPClassifier(device="cpu", **kw).fit(Xtr, ytr).score(Xte, yte))
            theirs.append(SkMLPClassifier(**kw).fit(Xtr, ytr).score(Xte, yte))
    print(f"{solver}: ours {np.mean(ours):.4f}, scikit-learn {np.mean(theirs):.4f}")
    assert np.mean(ours) >= np.mean(theirs) - 0.005


def test_fitted_attributes_are_scikit_learns(iris):
    X, y = iris
    m = MLPClassifier(hidden_layer_sizes=(8, 5), max_iter=30, device="cpu", random_state=0).fit(X, y)
    assert [c.shape for c in m.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in m.intercepts_] == [(8,), (5,), (3,)]
    assert m.n_layers_ == 4 and m.n_outputs_ == 3 and m.out_activation_ == "softmax"
    assert m.n_features_in_ == 4 and list(m.classes_) == [0, 1, 2]
    assert m.n_iter_ == 30 and m.t_ == 30 * 150 and len(m.loss_curve_) == 30
    assert m.loss_ == m.loss_curve_[-1] and m.best_loss_ == min(m.loss_curve_)
    assert m.validation_scores_ is None and m.best_validation_score_ is None
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(m.predict_log_proba(X), np.log(p))


def test_loss_is_scikit_learns_at_the_same_weights(iris):
    # one plain-SGD epoch over the whole set as one batch: the loss before the step is
    # scikit-learn's log-loss plus alpha/(2n)·‖W‖² at the same starting weights
    X, y = iris
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, learning_rate_init=1e-12, batch_size=150,
              alpha=0.5, random_state=3, max_iter=1, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLPClassifier(device="cpu", **kw).fit(X, y)
        theirs = SkMLPClassifier(**kw).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-5)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _tasks():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    w = rng.normal(size=(5, 3))
    z = X @ w
    return {
        "multiclass": (SkMLPClassifier, MLPClassifier, X, np.argmax(z, axis=1)),
        "binary": (SkMLPClassifier, MLPClassifier, X, (z[:, 0] > 0).astype(int)),
        "multilabel": (SkMLPClassifier, MLPClassifier, X, (z > 0).astype(int)),
        "regression": (SkMLPRegressor, MLPRegressor, X, z[:, 0]),
        "regression-3": (SkMLPRegressor, MLPRegressor, X, z),
    }


@pytest.mark.parametrize("solver,adam", [("sgd", {}), ("adam", {}), ("adam", {"epsilon": 0.05, "beta_2": 0.0})])
@pytest.mark.parametrize("task", list(_tasks()))
def test_steps_are_scikit_learns(task, solver, adam):
    # full-batch, unshuffled epochs from the same initial weights: the engine's steps (loss
    # scale c, lr/c or eps·c, λ = c·alpha/batch) must land on scikit-learn's weights. An epsilon
    # near the gradients' size makes Adam's eps·c matter where c != 1 (multi-label, regression);
    # beta_2 = 0 makes PyTorch's and scikit-learn's placements of epsilon the same (README)
    sk_cls, our_cls, X, y = _tasks()[task]
    kw = dict(hidden_layer_sizes=(7,), activation="tanh", solver=solver, learning_rate_init=0.05, alpha=0.1,
              batch_size=60, shuffle=False, max_iter=4, random_state=2, tol=0.0, **adam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = our_cls(device="cpu", **kw).fit(X, y)
        theirs = sk_cls(**kw).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    if task != "regression-3":  # there scikit-learn's reported loss is not the one it descends
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-5)


def test_early_stopping_keeps_the_best_validation_weights(digits):
    Xtr, _, ytr, _ = digits
    m = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=200,
                      device="cpu", random_state=0).fit(Xtr, ytr)
    assert m.best_loss_ is None and m.n_iter_ < 200
    assert m.best_validation_score_ == max(m.validation_scores_)
    assert len(m.validation_scores_) == m.n_iter_


def test_adaptive_learning_rate_divides_by_five(iris, capsys):
    X, y = iris
    m = MLPClassifier(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1, max_iter=8,
                      verbose=True, device="cpu", random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out
    assert "Training loss did not improve more than tol=10.000000 for 1 consecutive epochs. Setting learning rate to 0.000200" in out
    assert m.n_iter_ == 8


def test_pickle_and_clone(iris):
    X, y = iris
    m = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y)
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    # the optimizer's state travels too: one more partial_fit epoch is the same on both
    m.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "coefs_")


def test_warm_start_continues_the_weights(iris):
    X, y = iris
    # one batch per epoch (150 rows), so the curve is scikit-learn's, fresh Adam moments included
    kw = dict(hidden_layer_sizes=(8,), max_iter=10, learning_rate_init=0.01, random_state=0)
    m = MLPClassifier(device="cpu", **kw)
    sk = SkMLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (m, sk):
            est.fit(X, y).set_params(warm_start=True, max_iter=5).fit(X, y)
    assert len(m.loss_curve_) == 15 and m.n_iter_ == 5
    np.testing.assert_allclose(m.loss_curve_, sk.loss_curve_, rtol=1e-5)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
        m.fit(X[y < 2], y[y < 2])


def test_partial_fit_continues(iris):
    X, y = iris
    m = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, device="cpu", random_state=0)
    m.partial_fit(X[:20], y[:20], classes=[0, 1, 2])
    first = m.loss_
    for _ in range(30):
        m.partial_fit(X, y)
    assert m.n_iter_ == 1 and m.loss_ < first and m.score(X, y) > 0.8
    with pytest.raises(ValueError, match="classes not in"):
        m.partial_fit(X, y + 5)


def test_multilabel_and_multioutput():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    m = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, Y)
    assert m.out_activation_ == "logistic" and m.n_outputs_ == 4
    assert m.predict(X).shape == (200, 4) and m.predict_proba(X).shape == (200, 4)
    assert m.score(X, Y) > 0.5
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=3, random_state=0)
    r = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r.fit(X, Y)
    assert r.predict(X).shape == (200, 3) and r.score(X, Y) > 0.8


def test_errors_are_scikit_learns(iris):
    X, y = iris
    m = MLPClassifier(device="cpu")
    with pytest.raises(NotFittedError):
        m.predict(X)
    with pytest.raises(ValueError, match="solver"):
        MLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier(device="cpu").fit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    m = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        m.predict(X[:, :3])
    with pytest.raises(TypeError, match="Sparse data was passed"):
        MLPClassifier(device="cpu").fit(scipy.sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True, device="cpu").partial_fit(X, y, classes=[0, 1, 2])


def test_data_layouts_give_the_same_model(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier(**kw).fit(X, y).predict_proba(X)
        for variant in (np.asfortranarray(X), X.astype(np.float32), X[:, ::-1][:, ::-1]):
            np.testing.assert_allclose(MLPClassifier(**kw).fit(variant, y).predict_proba(X), ref, rtol=1e-5, atol=1e-6)
        pixels = (X * 10).astype(np.uint8)
        a = MLPClassifier(**kw).fit(pixels, y).predict_proba(pixels)
        b = MLPClassifier(**kw).fit(pixels.astype(np.float64), y).predict_proba(pixels.astype(np.float64))
        np.testing.assert_allclose(a, b)


def test_keyboard_interrupt_stops_and_leaves_a_usable_estimator(digits):
    Xtr, _, ytr, _ = digits
    m = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100000, tol=0.0, n_iter_no_change=10**9,
                      device="cpu", random_state=0)
    # the training thread holds no GIL, so this timer runs and the interrupt lands mid-fit
    threading.Timer(0.5, _thread.interrupt_main).start()
    t = time.time()
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        m.fit(Xtr, ytr)
    assert time.time() - t < 30 and 0 < m.n_iter_ < 100000
    assert m.score(Xtr, ytr) > 0.9
    m.partial_fit(Xtr, ytr)


def test_keyboard_interrupt_inside_a_long_epoch():
    # one epoch of 1,000,000 single-row steps: the interrupt is seen between 8,192-row chunks
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1_000_000, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    m = MLPClassifier(hidden_layer_sizes=(4,), batch_size=1, max_iter=5, device="cpu", random_state=0)
    threading.Timer(0.3, _thread.interrupt_main).start()
    t = time.time()
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        m.fit(X, y)
    assert time.time() - t < 20 and m.n_iter_ == 0 and m.loss_curve_ == []
    assert m.predict(X[:5]).shape == (5,)


def test_save_load_round_trip(tmp_path, iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    m = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, learning_rate_init=0.01, device="cpu", random_state=0)
    m.fit(X, names)
    m.save(tmp_path / "m.safetensors")
    back = MLPClassifier.load(tmp_path / "m.safetensors")
    assert back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.classes_, m.classes_)
    np.testing.assert_allclose(back.predict_proba(X), m.predict_proba(X), rtol=1e-6)
    with pytest.raises(ValueError, match="holds a classifier"):
        MLPRegressor.load(tmp_path / "m.safetensors")


@pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not built (cargo build --release, or set WGPU_MLP_CLI)")
def test_cli_evaluates_a_python_model_and_back(tmp_path, iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with open(tmp_path / "iris.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "d", "species"])
        w.writerows(list(r) + [n] for r, n in zip(X, names))
    m = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, learning_rate_init=0.01, device="cpu", random_state=0)
    m.fit(X, names)
    m.save(tmp_path / "py.safetensors")
    def cli_accuracy(model):
        out = subprocess.run([str(CLI), "eval", "--model", str(model), "--csv", str(tmp_path / "iris.csv"),
                              "--target", "species", "--split", "all", "--json"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])["report"]["accuracy"]
    assert cli_accuracy(tmp_path / "py.safetensors") == pytest.approx(m.score(X, names), abs=1e-9)
    # and back: a model the CLI trained, in the estimator
    run = subprocess.run([str(CLI), "train", "--csv", str(tmp_path / "iris.csv"), "--target", "species",
                          "--layers", "4,8,3", "--epochs", "30", "--device", "cpu", "--out", str(tmp_path / "run"),
                          "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    cli_model = tmp_path / "run" / "model.safetensors"
    est = MLPClassifier.load(cli_model, device="cpu")
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.score(X, names) == pytest.approx(cli_accuracy(cli_model), abs=1e-9)


@pytest.mark.skipif(not wgpu_mlp.gpu_available(), reason="no GPU adapter (device='gpu')")
def test_gpu_smoke(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpu = MLPClassifier(device="gpu", **kw).fit(X, y)
        cpu = MLPClassifier(device="cpu", **kw).fit(X, y)
    assert wgpu_mlp.describe_device("gpu").startswith("gpu")
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-3)
    assert abs(gpu.score(X, y) - cpu.score(X, y)) <= 0.02


@pytest.mark.skipif(not wgpu_mlp.gpu_available(), reason="no GPU adapter (device='gpu')")
def test_gpu_tuning_problems_are_warnings(tmp_path):
    # in a process of its own: the tuner reads its cache file once per process
    cache = tmp_path / "tune.json"
    cache.write_text("{ not json")
    code = (
        "import warnings, numpy as np\n"
        "from wgpu_mlp import MLPClassifier\n"
        "X = np.random.default_rng(0).random((40, 5)); y = np.arange(40) % 2\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, device='gpu').fit(X, y)\n"
        "print([str(x.message) for x in w if issubclass(x.category, UserWarning)])\n"
    )
    env = dict(os.environ, WGPU_MLP_TUNE_CACHE=str(cache))
    env.pop("WGPU_MLP_TUNE", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ignored the tuning cache" in out.stdout and "not JSON" in out.stdout, out.stdout
    # the corrupt file was replaced by the choices just measured
    assert json.loads(cache.read_text())["version"] == 1


def test_device_by_adapter_index_and_environment(iris, monkeypatch):
    # `gpu:N` and WGPU_MLP_ADAPTER reach the engine's own parsing; errors are ValueErrors naming them
    X, y = iris
    kw = dict(hidden_layer_sizes=(4,), max_iter=2)
    gpu = wgpu_mlp.gpu_available()  # before the variable below is set
    with pytest.raises(ValueError, match="not a device"):
        MLPClassifier(device="tpu", **kw).fit(X, y)
    with pytest.raises(ValueError, match="gpu:99: adapter 99 is out of range"):
        MLPClassifier(device="gpu:99", **kw).fit(X, y)
    monkeypatch.setenv("WGPU_MLP_ADAPTER", "99")
    with pytest.raises(ValueError, match="WGPU_MLP_ADAPTER: 99: adapter 99 is out of range"):
        MLPClassifier(device="gpu", **kw).fit(X, y)
    MLPClassifier(device="cpu", **kw).fit(X, y)  # the CPU engine ignores the variable
    if gpu:
        monkeypatch.setenv("WGPU_MLP_ADAPTER", "0")
        assert wgpu_mlp.describe_device("gpu").startswith("gpu")
        monkeypatch.delenv("WGPU_MLP_ADAPTER")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = MLPClassifier(device="gpu:0", random_state=0, **kw).fit(X, y)
        assert wgpu_mlp.describe_device("gpu:0").startswith("gpu") and m.n_iter_ == 2
