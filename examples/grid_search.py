"""GridSearchCV over two hyperparameters of GNetClassifier on an MNIST subset.

    python examples/grid_search.py                               # 10,000 images, 3-fold
    python examples/grid_search.py --samples 600 --epochs 1 --cv 2
    python examples/grid_search.py --device cuda                 # the same on a GPU

GNetClassifier is an ordinary scikit-learn estimator: it clones, takes part
in pipelines and searches, and its hyperparameters are constructor arguments.
"""

from __future__ import annotations

import argparse

from sklearn.model_selection import GridSearchCV

import gnet
from gnet.sklearn import GNetClassifier


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000, help="training images searched over")
    parser.add_argument("--test-samples", type=int, default=None, help="first N test images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    (X, y), (X_test, y_test) = gnet.datasets.load("mnist")
    X, y = X[: args.samples], y[: args.samples]
    X_test, y_test = X_test[: args.test_samples], y_test[: args.test_samples]

    search = GridSearchCV(
        GNetClassifier(epochs=args.epochs, batch_size=64, device=args.device, seed=0),
        param_grid={
            "hidden_layer_sizes": [(32,), (128,)],
            "learning_rate": [0.01, 0.1],
        },
        cv=args.cv,
        n_jobs=1,  # one process; on a GPU, one process owns the device
    )
    search.fit(X, y)

    for params, mean, std in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        search.cv_results_["std_test_score"],
        strict=True,
    ):
        print(f"{params}: {mean:.4f} ± {std:.4f}")
    print(f"best: {search.best_params_} (cross-validated accuracy {search.best_score_:.4f})")
    print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
