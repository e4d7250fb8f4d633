"""An Optuna study over wgpu_mlp.MLPClassifier: each trial's objective is the estimator's
5-fold cross-validated accuracy (scikit-learn's cross_val_score), so any scheduler Optuna runs
on (a shared RDB storage, Dask, Ray) can run it.

    pip install ./python optuna
    python python/examples/optuna_search.py --trials 20
"""
import argparse

import optuna
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score

from wgpu_mlp import MLPClassifier


def objective(trial, X, y, device="auto", max_iter=50):
    est = MLPClassifier(
        hidden_layer_sizes=(trial.suggest_int("hidden", 16, 128, log=True),),
        learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
        alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        max_iter=max_iter,
        random_state=0,
        device=device,
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(est, X, y, cv=cv).mean()


def study(X, y, trials, seed=0, **kw):
    s = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    s.optimize(lambda t: objective(t, X, y, **kw), n_trials=trials)
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    X, y = load_digits(return_X_y=True)
    s = study(X / 16.0, y, a.trials, device=a.device)
    print(f"best accuracy {s.best_value:.4f} with {s.best_params}")


if __name__ == "__main__":
    main()
