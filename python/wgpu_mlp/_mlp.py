"""scikit-learn's MLPClassifier and MLPRegressor over wgpu-mlp's engines.

The estimators keep scikit-learn's parameters, attributes and epoch loop (stopping rule,
schedules, early stopping, warnings and verbose lines, copied from
sklearn/neural_network/_multilayer_perceptron.py); every training step and every prediction is
the engine's (wgpu_mlp._core). How scikit-learn's conventions map onto the engine's:

- loss scale: the engine's losses are means over every output (PyTorch's), scikit-learn's
  log-loss sums over outputs and its squared error is halved. The engine's gradient is
  ``c`` times scikit-learn's, with c = 1 (softmax), 1/K (K logistic outputs), 2/K (K regression
  outputs). Plain SGD/momentum/Nesterov therefore run at lr/c and Adam at eps·c (Adam's step is
  otherwise invariant to the scale), so the updates are scikit-learn's.
- alpha: scikit-learn adds alpha/(2·n_batch)·‖W‖² to each batch's mean loss; the engine's L2 λ
  adds ½λ‖W‖². λ = c·alpha/batch_size: exact for every full batch, the last, smaller batch of an
  epoch is penalised by alpha/batch_size instead of alpha/n_last.
"""

import json
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core

_ACTIVATION = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky_relu": "leaky_relu"}
_ACTIVATION_BACK = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}
_SOLVERS = {"sgd", "adam", "rmsprop", "adamw"}
# what reaches the engine as it is (it reads float32, float64 and uint8 rows in any order and
# converts once into its own float32 rows); anything else becomes float64 first
_DTYPES = (np.float64, np.float32, np.uint8)


def _weight_dtype(X):
    """coefs_ follow X's dtype as scikit-learn's do; uint8 input gets float64 weights."""
    return X.dtype if X.dtype in (np.float32, np.float64) else np.float64


class _BaseMLP(BaseEstimator):
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATION))],
        "solver": [StrOptions(_SOLVERS)],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # the engine's momentum is in [0, 1)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        # auto, cpu, gpu or gpu:N (the engine parses it and names a bad one)
        "device": [str],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        device="auto",
        dropout=0.0,
        l1=0.0,
        weight_decay=0.0,
        clip_norm=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.dropout = dropout
        self.l1 = l1
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm

    # ---- the network and its flat parameters -------------------------------------------

    def _loss_name(self):
        if not is_classifier(self):
            return "mse"
        return "softmax_xent" if self.out_activation_ == "softmax" else "bce"

    def _grad_scale(self):
        """c: the engine's gradient over scikit-learn's (see the module's docstring)."""
        k = self.n_outputs_
        if not is_classifier(self):
            return 2.0 / k
        return 1.0 if self.out_activation_ == "softmax" else 1.0 / k

    def _sizes(self):
        return [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]

    def _setup(self, batch=1, seed=0):
        c = self._grad_scale()
        sizes = self._sizes()
        solver = self.solver
        sgd_like = solver == "sgd"
        if sgd_like:
            kind = "sgd" if self.momentum == 0 else ("nesterov" if self.nesterovs_momentum else "momentum")
        else:
            kind = solver
        keep = []
        if self.dropout > 0:
            keep = [1.0] + [1.0 - float(self.dropout)] * (len(sizes) - 2)
        return {
            "sizes": sizes,
            "activation": _ACTIVATION[self.activation],
            "loss": self._loss_name(),
            "optimizer": kind,
            "momentum": float(self.momentum) if sgd_like else 0.0,
            "nesterov": False,
            "beta1": float(self.beta_1),
            "beta2": float(self.beta_2),
            "eps": float(self.epsilon) * (c if solver in ("adam", "adamw") else 1.0),
            "weight_decay": float(self.weight_decay),
            "clip_norm": None if self.clip_norm is None else float(self.clip_norm),
            "l2": c * float(self.alpha) / batch,
            "l1": c * float(self.l1) / batch,
            "keep": keep,
            "batch": int(batch),
            "seed": int(seed),
            "device": self.device,
        }

    def _pack(self):
        sizes = self._sizes()
        total, offsets = _core.layout(sizes)
        flat = np.zeros(total, dtype=np.float32)
        for (w, b), coef, bias in zip(offsets, self.coefs_, self.intercepts_):
            flat[w : w + coef.size] = np.asarray(coef, dtype=np.float32).T.ravel()
            flat[b : b + bias.size] = bias
        return flat

    def _unpack(self, flat, dtype):
        sizes = self._sizes()
        _, offsets = _core.layout(sizes)
        for i, (w, b) in enumerate(offsets):
            n_in, n_out = sizes[i], sizes[i + 1]
            self.coefs_[i] = flat[w : w + n_in * n_out].reshape(n_out, n_in).T.astype(dtype)
            self.intercepts_[i] = flat[b : b + n_out].astype(dtype)

    def _forward(self, X):
        """The engine's outputs for validated X, float64 [n, n_outputs]."""
        out = _core.predict(json.dumps(self._setup()), X, self._pack())
        return out.astype(np.float64)

    # ---- fitting ------------------------------------------------------------------------

    def _initialize(self, y, layer_units, dtype):
        # scikit-learn's _initialize: Glorot uniform weights and biases from self._random_state
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(self._random_state.uniform(-bound, bound, fan_out).astype(dtype))
        self._slots = None
        self._epochs = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _engine_targets(self, y):
        """What the engine trains on: (targets, classes) — labels with a class count, or values."""
        if is_classifier(self) and self.out_activation_ == "softmax":
            return np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64), self.n_outputs_
        if is_classifier(self) and self.n_outputs_ == 1:
            return np.ascontiguousarray(y[:, 0], dtype=np.int64), 2
        return np.ascontiguousarray(y, dtype=np.float32), None

    def _fit(self, X, y, incremental=False):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, _weight_dtype(X))
        elif self._sizes() != layer_units:
            raise ValueError(
                f"the fitted network is {'-'.join(map(str, self._sizes()))}; this data and "
                f"hidden_layer_sizes need {'-'.join(map(str, layer_units))}"
            )
        self.n_outputs_ = y.shape[1]
        self._fit_stochastic(X, y, incremental)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _fit_stochastic(self, X, y, incremental):
        # a fresh optimizer unless partial_fit continues one, as scikit-learn's
        if not incremental or not hasattr(self, "_lr"):
            self._slots, self._step, self._lr = None, 0, float(self.learning_rate_init)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            X_train, X_val, y_train, y_val = train_test_split(
                X, y, random_state=self._random_state, test_size=self.validation_fraction, stratify=stratify
            )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
                )
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            elif y_val.shape[1] == 1:
                y_val = y_val.ravel()
        else:
            X_train, y_train, X_val, y_val = X, y, None, None
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        setup = self._setup(batch_size, seed)
        c = self._grad_scale()
        # plain SGD-family steps scale with the gradient; Adam's do not (eps carries c instead)
        lr_scale = 1.0 / c if self.solver == "sgd" else 1.0
        # the engine's mean loss is c·(scikit-learn's) for log-loss, 2·(scikit-learn's) for squared
        # error (exact for one output; with K outputs its penalty part is scikit-learn's · 2/K)
        loss_scale = 2.0 if not is_classifier(self) else c
        targets, classes = self._engine_targets(y_train)
        self.n_iter_ = 0
        state = {"stopped": False}

        def on_epoch(engine_loss, val_out):
            self.n_iter_ += 1
            self._epochs += 1
            self.loss_ = engine_loss / loss_scale
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            snapshot = self._update_no_improvement_count(early_stopping, val_out, y_val)
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                self._lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            stop = False
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
                    what,
                    self.tol,
                    self.n_iter_no_change,
                )
                stop = self._trigger_stopping(msg)
                state["stopped"] = stop
                if not stop:
                    self._no_improvement_count = 0
            if not stop and not incremental and self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't converged yet."
                    % self.max_iter,
                    ConvergenceWarning,
                )
            return stop, self._lr * lr_scale, snapshot

        result = _core.train(
            json.dumps(setup),
            X_train,
            targets,
            classes,
            self._pack(),
            self._slots,
            self._step,
            self._lr * lr_scale,
            self._epochs,
            1 if incremental else int(self.max_iter),
            bool(self.shuffle),
            X_val,
            on_epoch,
            early_stopping,
        )
        self._unpack(result["params"], _weight_dtype(X))
        self._slots, self._step = result["slots"], result["step"]
        if result["interrupted"]:
            warnings.warn("Training interrupted by user.")

    def _trigger_stopping(self, msg):
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._lr /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._lr)
        return False

    def _update_no_improvement_count(self, early_stopping, val_out, y_val):
        """scikit-learn's rule; True when the current weights are the best so far."""
        if early_stopping:
            score = self._score_outputs(val_out, y_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                return True
            return False
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]
        return False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y (every epoch runs in the engine)."""
        return self._fit(X, y, incremental=False)

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=_DTYPES)

    # ---- model files ----------------------------------------------------------------------

    def save(self, path):
        """Writes the CLI's model file (safetensors: `layers.{i}.weight` [out, in], bias, metadata)."""
        check_is_fitted(self)
        meta = {
            "sklearn": {
                "estimator": type(self).__name__,
                "params": _json_params(self.get_params()),
                "out_activation": self.out_activation_,
                "n_iter": int(self.n_iter_),
                "t": int(self.t_),
                "loss_curve": [float(v) for v in self.loss_curve_],
                "feature_names_in": list(map(str, getattr(self, "feature_names_in_", []))) or None,
            }
        }
        if is_classifier(self):
            meta["class_names"] = [str(c) for c in self.classes_]
            meta["sklearn"]["classes"] = self.classes_.tolist()
            meta["sklearn"]["multilabel"] = self._label_binarizer.y_type_.startswith("multilabel")
        _core.save_model(str(path), json.dumps(self._setup()), self._pack(), json.dumps(meta))

    @classmethod
    def load(cls, path, **params):
        """An estimator from a model file written by `save` or by `wgpu-mlp train`."""
        sizes, acts, loss, flat, meta = _core.load_model(str(path))
        meta = json.loads(meta)
        sk = meta.get("sklearn") or {}
        classification = loss in ("softmax_xent", "bce")
        if classification != is_classifier(cls()):
            kind = "classifier" if classification else "regressor"
            raise ValueError(f"{path} holds a {kind} ({loss}); load it with the other estimator")
        if meta.get("standardize"):
            raise ValueError(f"{path} was trained with --standardize; the estimators take unscaled features (use a StandardScaler in a Pipeline)")
        stored = dict(sk.get("params") or {})
        if "hidden_layer_sizes" in stored:
            stored["hidden_layer_sizes"] = tuple(stored["hidden_layer_sizes"])
        if not stored:
            if len(set(acts)) > 1 or (acts and acts[0] not in _ACTIVATION_BACK):
                raise ValueError(f"{path}: hidden activations {acts} have no scikit-learn equivalent")
            stored = {"hidden_layer_sizes": tuple(sizes[1:-1]), "activation": _ACTIVATION_BACK[acts[0]] if acts else "relu"}
        stored.update(params)
        est = cls(**stored)
        est.n_outputs_ = sizes[-1]
        est.n_layers_ = len(sizes)
        est.n_features_in_ = sizes[0]
        if sk.get("feature_names_in"):
            est.feature_names_in_ = np.asarray(sk["feature_names_in"], dtype=object)
        est.coefs_ = [np.zeros((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        est.intercepts_ = [np.zeros(b) for b in sizes[1:]]
        est._unpack(np.asarray(flat), np.float64)
        est.n_iter_ = sk.get("n_iter", 0)
        est.t_ = sk.get("t", 0)
        est.loss_curve_ = sk.get("loss_curve", [])
        if classification:
            est.out_activation_ = "softmax" if loss == "softmax_xent" else "logistic"
            classes = sk.get("classes") or meta.get("class_names") or list(range(max(sizes[-1], 2)))
            if "classes" not in sk and all(str(c).lstrip("-").isdigit() for c in classes):
                classes = [int(c) for c in classes]
            est._label_binarizer = LabelBinarizer()
            if sk.get("multilabel"):
                est._label_binarizer.fit(np.eye(len(classes), dtype=int))
            else:
                est._label_binarizer.fit(np.asarray(classes))
            est.classes_ = est._label_binarizer.classes_
        else:
            est.out_activation_ = "identity"
        return est


# scikit-learn checks these estimators cannot pass, with why (scikit-learn >= 1.6 declares them
# through parametrize_with_checks' expected_failed_checks, which reads this)
EXPECTED_FAILED_CHECKS = {
    "MLPRegressor": {
        "check_methods_subset_invariance": (
            "the engines compute in float32 and the CPU engine's matrix product blocks rows by "
            "count, so a row predicted in a smaller batch may differ in its last bit (2.4e-7); "
            "the check asks for 1e-7"
        ),
    },
}


def expected_failed_checks(estimator):
    """The scikit-learn estimator checks `estimator` is known to fail, each with its reason."""
    return dict(EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))


def _json_params(params):
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, (tuple, list)):
            v = [int(x) for x in v]
        if k == "random_state" and not (v is None or isinstance(v, int)):
            v = None
        out[k] = v
    return out


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier (softmax for several classes, logistic outputs for two classes
    and multi-label targets) trained by wgpu-mlp's GPU or CPU engine (`device`)."""

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, dtype=_DTYPES, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous call to fit."
                        f" Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}.")
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing the weights and the optimizer's state."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._partial_fit(X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X, y):
        return self._fit(X, y, incremental=True)

    def _score_outputs(self, out, y):
        pred = self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)
        return accuracy_score(y, pred)

    def predict(self, X):
        """The predicted classes (label-indicator rows for multi-label targets)."""
        out = self._forward(self._check_X(X))
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of `classes_`."""
        out = self._forward(self._check_X(X))
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.vstack([1 - p, p]).T
        if self.out_activation_ == "softmax":
            # the engine's float32 softmax, renormalised in float64
            out /= out.sum(axis=1, keepdims=True)
        return out

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor (squared error, identity output) trained by wgpu-mlp's GPU or
    CPU engine (`device`)."""

    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints, "loss": [StrOptions({"squared_error"})]}

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        device="auto",
        dropout=0.0,
        l1=0.0,
        weight_decay=0.0,
        clip_norm=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            device=device,
            dropout=dropout,
            l1=l1,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
        )
        self.loss = loss

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=_DTYPES, reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing the weights and the optimizer's state."""
        return self._fit(X, y, incremental=True)

    def _score_outputs(self, out, y):
        return r2_score(y, out.ravel() if out.shape[1] == 1 else out)

    def predict(self, X):
        """The predicted values, (n_samples,) or (n_samples, n_outputs)."""
        out = self._forward(self._check_X(X))
        return out.ravel() if out.shape[1] == 1 else out
