"""scikit-learn's own MLPClassifier tests (sklearn/neural_network/tests/test_mlp.py,
scikit-learn 1.9), ported to GNetClassifier.

Names translated: ``max_iter`` -> ``epochs``, ``learning_rate_init`` ->
``learning_rate``, ``alpha`` -> ``l2``, ``solver`` -> ``optimizer``,
``random_state`` -> ``seed``, ``n_iter_no_change=np.inf`` -> no early
stopping. Each test names the scikit-learn test it ports and says what was
adapted. The tests that cannot apply (L-BFGS, regression, multilabel,
``tol`` / ``n_iter_no_change``, ``verbose``, learning-rate schedules by name,
sparse input, ``sample_weight``, a single logistic output unit) are listed
at the end of this file with the reason.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import joblib  # noqa: E402
from sklearn.datasets import load_digits, load_iris, make_classification  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils._testing import assert_allclose, assert_array_equal  # noqa: E402

from gnet.errors import TrainingDiverged  # noqa: E402
from gnet.sklearn import GNetClassifier  # noqa: E402

ACTIVATION_TYPES = ["identity", "logistic", "tanh", "relu"]

X_digits, y_digits = load_digits(n_class=3, return_X_y=True)
X_digits_multi = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_multi = y_digits[:200]

X_digits, y_digits = load_digits(n_class=2, return_X_y=True)
X_digits_binary = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_binary = y_digits[:200]

classification_datasets = [
    (X_digits_multi, y_digits_multi),
    (X_digits_binary, y_digits_binary),
]

X_iris, y_iris = load_iris(return_X_y=True)


def test_alpha():
    """test_alpha: a larger L2 penalty gives weights closer to zero. The
    penalties come from ``np.arange(2)``, NumPy integers as in scikit-learn."""
    X = X_digits_binary[:100]
    y = y_digits_binary[:100]
    alpha_vectors = []
    alpha_values = np.arange(2)
    for alpha in alpha_values:
        mlp = GNetClassifier(hidden_layer_sizes=10, l2=alpha, seed=1)
        mlp.fit(X, y)
        alpha_vectors.append(np.array([np.abs(c).sum() for c in mlp.coefs_]))
    for i in range(len(alpha_values) - 1):
        assert (alpha_vectors[i] > alpha_vectors[i + 1]).all()


@pytest.mark.parametrize("n_labels", [2, 3])
@pytest.mark.parametrize("activation", ACTIVATION_TYPES)
def test_gradient(n_labels, activation):
    """test_gradient: analytic gradients of the fitted network agree with
    central differences of its loss. scikit-learn reaches into its L-BFGS
    loss function; here the network's own ``gradients`` and ``loss_value``
    (batch-mean cross-entropy; the L2 term is the optimiser's, not the loss's)."""
    n_samples, n_features = 5, 10
    rng = np.random.RandomState(seed=42)
    X = rng.rand(n_samples, n_features)
    y = 1 + np.mod(np.arange(n_samples) + 1, n_labels)
    mlp = GNetClassifier(activation=activation, hidden_layer_sizes=10, epochs=1, seed=1)
    mlp.fit(X, y)  # float64 X: a float64 network
    net = mlp.network_
    y_index = np.searchsorted(mlp.classes_, y)
    params = [np.array(p) for p in net.parameters()]
    grads = [np.array(g) for layer in net.gradients(X, y_index) for g in layer.values()]
    eps = 1e-5
    for k, p in enumerate(params):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            values = []
            for sign in (1, -1):
                moved = [q.copy() for q in params]
                moved[k][i] += sign * eps
                net.set_parameters(moved)
                values.append(net.loss_value(X, y_index))
            numeric[i] = (values[0] - values[1]) / (2 * eps)
        assert_allclose(grads[k], numeric, atol=1e-7)
    net.set_parameters(params)


@pytest.mark.parametrize("X,y", classification_datasets)
@pytest.mark.parametrize("activation", ACTIVATION_TYPES)
def test_classification(X, y, activation):
    """test_lbfgs_classification without L-BFGS: adam (gnet has no L-BFGS)
    fits the digits training rows above 0.95, and predict keeps y's kind."""
    X_train, y_train, X_test = X[:150], y[:150], X[150:]
    mlp = GNetClassifier(
        optimizer="adam",
        learning_rate=0.01,
        hidden_layer_sizes=50,
        epochs=150,
        shuffle=True,
        seed=1,
        activation=activation,
    )
    mlp.fit(X_train, y_train)
    y_predict = mlp.predict(X_test)
    assert mlp.score(X_train, y_train) > 0.95
    assert (y_predict.shape[0], y_predict.dtype.kind) == (X_test.shape[0], y_train.dtype.kind)


def test_learning_rate_warmstart():
    """test_learning_rate_warmstart, learning_rate="constant" part: a warm
    start keeps the learning rate (invscaling has no gnet counterpart)."""
    X = [[3, 2], [1, 6], [5, 6], [-2, -4]]
    y = [1, 1, 1, 0]
    mlp = GNetClassifier(optimizer="sgd", hidden_layer_sizes=4, epochs=1, warm_start=True)
    mlp.fit(X, y)
    prev_eta = mlp._optimizer.learning_rate
    mlp.fit(X, y)
    assert prev_eta == mlp._optimizer.learning_rate == mlp.learning_rate


def test_multilabel_indicator_y_is_refused():
    """test_multilabel_classification's counterpart: GNetClassifier is a
    single-label (softmax) classifier, so an indicator matrix y is
    scikit-learn's ValueError at fit, not a silent misfit."""
    X = np.random.RandomState(0).rand(10, 3)
    Y = np.eye(5, dtype=int)[np.arange(10) % 5]
    with pytest.raises(ValueError, match="y should be a 1d array"):
        GNetClassifier(epochs=1).fit(X, Y)


def test_partial_fit_classes_error():
    X = [[3, 2]]
    y = [0]
    clf = GNetClassifier(optimizer="sgd")
    clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit(X, y, classes=[1, 2])


@pytest.mark.parametrize("X,y", classification_datasets)
def test_partial_fit_classification(X, y):
    """test_partial_fit_classification: 100 partial_fit calls predict what
    fit with 100 epochs predicts, and score above 0.95."""
    params = dict(optimizer="sgd", seed=1, l2=1e-5, learning_rate=0.2)
    mlp = GNetClassifier(epochs=100, **params)
    mlp.fit(X, y)
    pred1 = mlp.predict(X)
    mlp = GNetClassifier(**params)
    for _ in range(100):
        mlp.partial_fit(X, y, classes=np.unique(y))
    pred2 = mlp.predict(X)
    assert_array_equal(pred1, pred2)
    assert mlp.score(X, y) > 0.95


def test_partial_fit_unseen_classes():
    clf = GNetClassifier(seed=0)
    clf.partial_fit([[1], [2], [3]], ["a", "b", "c"], classes=["a", "b", "c", "d"])
    clf.partial_fit([[4]], ["d"])
    assert clf.score([[1], [2], [3], [4]], ["a", "b", "c", "d"]) > 0


def test_partial_fit_errors():
    """test_partial_fit_errors: classes that do not hold y's labels are a
    ValueError (the L-BFGS half does not apply: gnet always has partial_fit)."""
    X = [[3, 2], [1, 6]]
    y = [1, 0]
    with pytest.raises(ValueError):
        GNetClassifier(optimizer="sgd").partial_fit(X, y, classes=[2])
    with pytest.raises(ValueError):
        GNetClassifier(optimizer="sgd").partial_fit(X, y, classes=[0, 2])


def test_nonfinite_params():
    """test_nonfinite_params (an MLPRegressor test, asked of the classifier):
    inputs near float64's maximum end in a clean error, not NaN weights.
    gnet's error is TrainingDiverged (an ArithmeticError), not ValueError."""
    rng = np.random.RandomState(0)
    fmax = np.finfo(np.float64).max
    X = fmax * rng.uniform(size=(10, 2))
    y = np.arange(10) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in the arithmetic
        with pytest.raises(TrainingDiverged):
            GNetClassifier(normalize=False).fit(X, y)


def test_predict_proba_binary():
    """test_predict_proba_binary (200 epochs for MLPClassifier's default
    max_iter=200). The two columns come from a two-unit softmax."""
    X = X_digits_binary[:50]
    y = y_digits_binary[:50]
    clf = GNetClassifier(hidden_layer_sizes=5, activation="logistic", seed=1, epochs=200)
    clf.fit(X, y)
    y_proba = clf.predict_proba(X)
    y_log_proba = clf.predict_log_proba(X)
    assert y_proba.shape == (y.shape[0], 2)
    assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    assert_allclose(y_log_proba, np.log(y_proba))
    assert roc_auc_score(y, y_proba[:, 1]) == 1.0


def test_predict_proba_multiclass():
    X = X_digits_multi[:10]
    y = y_digits_multi[:10]
    clf = GNetClassifier(hidden_layer_sizes=5)
    clf.fit(X, y)
    y_proba = clf.predict_proba(X)
    y_log_proba = clf.predict_log_proba(X)
    assert y_proba.shape == (y.shape[0], np.unique(y).size)
    assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    assert_allclose(y_log_proba, np.log(y_proba))


def test_shuffle():
    """test_shuffle (an MLPRegressor test, on classification data): the
    same seed gives the same weights with or without shuffling, and
    shuffling changes them."""
    X, y = make_classification(n_samples=50, n_features=5, random_state=0)
    for shuffle in [True, False]:
        mlp1 = GNetClassifier(hidden_layer_sizes=1, epochs=1, batch_size=1, seed=0, shuffle=shuffle)
        mlp2 = GNetClassifier(hidden_layer_sizes=1, epochs=1, batch_size=1, seed=0, shuffle=shuffle)
        mlp1.fit(X, y)
        mlp2.fit(X, y)
        assert np.array_equal(mlp1.coefs_[0], mlp2.coefs_[0])
    mlp1 = GNetClassifier(hidden_layer_sizes=1, epochs=1, batch_size=1, seed=0, shuffle=True)
    mlp2 = GNetClassifier(hidden_layer_sizes=1, epochs=1, batch_size=1, seed=0, shuffle=False)
    mlp1.fit(X, y)
    mlp2.fit(X, y)
    assert not np.array_equal(mlp1.coefs_[0], mlp2.coefs_[0])


def test_early_stopping():
    """test_early_stopping: with early stopping the fit ends before the
    epoch limit, best_loss_ is None and best_validation_score_ is the best
    of validation_scores_; without it those two are None and best_loss_ is
    set. (scikit-learn's tol=0.2 conditions hold for the maximum trivially.)"""
    X = X_digits_binary[:100]
    y = y_digits_binary[:100]
    tol = 0.2
    mlp = GNetClassifier(epochs=3000, optimizer="sgd", early_stopping=True)
    mlp.fit(X, y)
    assert mlp.epochs > mlp.n_iter_
    assert mlp.best_loss_ is None
    assert isinstance(mlp.validation_scores_, list)
    valid_scores = mlp.validation_scores_
    best_valid_score = mlp.best_validation_score_
    assert max(valid_scores) == best_valid_score
    assert best_valid_score + tol > valid_scores[-2]
    assert best_valid_score + tol > valid_scores[-1]

    mlp = GNetClassifier(epochs=30, optimizer="sgd", early_stopping=False)
    mlp.fit(X, y)
    assert mlp.validation_scores_ is None
    assert mlp.best_validation_score_ is None
    assert mlp.best_loss_ is not None


def test_warm_start():
    X, y = X_iris, y_iris
    y_2classes = np.array([0] * 75 + [1] * 75)
    y_3classes = np.array([0] * 40 + [1] * 40 + [2] * 70)
    y_3classes_alt = np.array([0] * 50 + [1] * 50 + [3] * 50)
    y_4classes = np.array([0] * 37 + [1] * 37 + [2] * 38 + [3] * 38)
    y_5classes = np.array([0] * 30 + [1] * 30 + [2] * 30 + [3] * 30 + [4] * 30)

    clf = GNetClassifier(hidden_layer_sizes=2, warm_start=True, seed=42).fit(X, y)
    clf.fit(X, y)
    clf.fit(X, y_3classes)  # no error: the same classes
    for y_i in (y_2classes, y_3classes_alt, y_4classes, y_5classes):
        clf = GNetClassifier(hidden_layer_sizes=2, warm_start=True, seed=42).fit(X, y)
        message = (
            "warm_start can only be used where `y` has the same "
            "classes as in the previous call to fit."
            f" Previously got [0 1 2], `y` has {np.unique(y_i)}"
        )
        with pytest.raises(ValueError, match=re.escape(message)):
            clf.fit(X, y_i)


def test_warm_start_full_iteration():
    """test_warm_start_full_iteration: every warm-started fit runs its epochs."""
    clf = GNetClassifier(hidden_layer_sizes=2, optimizer="sgd", warm_start=True, epochs=3)
    clf.fit(X_iris, y_iris)
    assert clf.n_iter_ == 3
    clf.fit(X_iris, y_iris)
    assert clf.n_iter_ == 3


def test_early_stopping_stratified():
    """test_early_stopping_stratified: scikit-learn's message names the
    binarised label ('True'); gnet stratifies on the labels themselves, so
    it names the class, 1."""
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    y = [0, 0, 0, 1]
    mlp = GNetClassifier(early_stopping=True)
    with pytest.raises(
        ValueError,
        match=(
            r"The least populated classes in y have only 1 member.*Classes with "
            r"too few members are: \[1\]"
        ),
    ):
        mlp.fit(X, y)


def test_mlp_early_stopping_string_labels():
    X, y = make_classification(
        n_samples=200, n_features=10, n_classes=3, n_informative=5, random_state=42
    )
    y = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    mlp = GNetClassifier(early_stopping=True, epochs=50, seed=42)
    mlp.fit(X, y)
    assert mlp.validation_scores_ is not None
    assert len(mlp.validation_scores_) == mlp.n_iter_
    assert np.isfinite(mlp.validation_scores_).all()


def test_mlp_classifier_dtypes_casting():
    """test_mlp_classifier_dtypes_casting: float64 and float32 inputs (which
    train in float64 and float32) predict alike."""
    params = dict(l2=1e-5, hidden_layer_sizes=(5, 3), seed=1, epochs=100)
    mlp_64 = GNetClassifier(**params).fit(X_digits[:300], y_digits[:300])
    pred_64 = mlp_64.predict(X_digits[300:])
    proba_64 = mlp_64.predict_proba(X_digits[300:])
    mlp_32 = GNetClassifier(**params).fit(X_digits[:300].astype(np.float32), y_digits[:300])
    pred_32 = mlp_32.predict(X_digits[300:].astype(np.float32))
    proba_32 = mlp_32.predict_proba(X_digits[300:].astype(np.float32))
    assert_array_equal(pred_64, pred_32)
    assert_allclose(proba_64, proba_32, rtol=1e-02)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_param_dtypes(dtype):
    X, y = X_digits.astype(dtype), y_digits
    mlp = GNetClassifier(l2=1e-5, hidden_layer_sizes=(5, 3), seed=1, epochs=50)
    mlp.fit(X[:300], y[:300])
    mlp.predict(X[300:])
    assert all(intercept.dtype == dtype for intercept in mlp.intercepts_)
    assert all(coef.dtype == dtype for coef in mlp.coefs_)
    assert mlp.predict_proba(X[300:]).dtype == dtype


def test_mlp_loading_from_joblib_partial_fit(tmp_path):
    """test_mlp_loading_from_joblib_partial_fit (an MLPRegressor test, as a
    classifier): a model loaded with joblib learns from partial_fit."""
    X, y = [[0.0], [1.0]], [0, 1]
    pre_trained = GNetClassifier(hidden_layer_sizes=(42,), seed=42, learning_rate=0.01, epochs=200)
    pre_trained.fit(X, y)
    assert pre_trained.predict(X).tolist() == [0, 1]
    joblib.dump(pre_trained, tmp_path / "mlp.pkl")
    loaded = joblib.load(tmp_path / "mlp.pkl")
    before = [c.copy() for c in loaded.coefs_]
    for _ in range(200):
        loaded.partial_fit(X, [1, 0])  # the labels swapped
    assert loaded.predict(X).tolist() == [1, 0]
    assert not np.array_equal(before[0], loaded.coefs_[0])


def test_preserve_feature_names():
    """test_preserve_feature_names: no feature-name warning with early
    stopping. y has two classes here (GNetClassifier needs two)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(data=rng.randn(10, 2), columns=["colname_a", "colname_b"])
    y = pd.Series(data=[0, 1] * 5, name="colname_y")
    model = GNetClassifier(early_stopping=True, validation_fraction=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(X, y)


def test_mlp_warm_start_with_early_stopping():
    mlp = GNetClassifier(epochs=10, seed=0, warm_start=True, early_stopping=True)
    mlp.fit(X_iris, y_iris)
    n_validation_scores = len(mlp.validation_scores_)
    mlp.set_params(epochs=20)
    mlp.fit(X_iris, y_iris)
    assert len(mlp.validation_scores_) > n_validation_scores


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mlp_warm_start_no_convergence(optimizer):
    """test_mlp_warm_start_no_convergence for sgd and adam (no L-BFGS):
    without early stopping every warm-started fit runs ``epochs`` epochs.
    gnet issues no ConvergenceWarning (it has no ``tol``)."""
    model = GNetClassifier(
        optimizer=optimizer, warm_start=True, early_stopping=False, epochs=10, seed=0
    )
    model.fit(X_iris, y_iris)
    assert model.n_iter_ == 10
    model.set_params(epochs=20)
    model.fit(X_iris, y_iris)
    assert model.n_iter_ == 20


def test_mlp_partial_fit_after_fit():
    mlp = GNetClassifier(early_stopping=True, seed=0).fit(X_iris, y_iris)
    msg = "partial_fit does not support early_stopping=True"
    with pytest.raises(ValueError, match=msg):
        mlp.partial_fit(X_iris, y_iris)


def test_minimum_input_sample_size():
    """test_minimum_input_sample_size (an MLPRegressor test): two samples
    leave no room for a validation set. A stratified split needs one
    validation sample per class, so the error is train_test_split's."""
    X, y = make_classification(n_samples=4, n_features=5, n_informative=2, random_state=0)
    model = GNetClassifier(early_stopping=True, seed=0)
    with pytest.raises(ValueError, match="test_size = 1 should be greater or equal"):
        model.fit(X, y)


# Not ported, and why (scikit-learn 1.9's test_mlp.py):
#
# test_fit                  a worked example with one logistic output unit and
#                           scikit-learn's alpha / n_samples L2 scaling, set through
#                           private attributes; gnet keeps a two-unit softmax and
#                           adds l2 * W to the gradient (tests/test_gradients.py
#                           checks gnet's own arithmetic)
# test_lbfgs_regression, test_lbfgs_classification_maxfun,
# test_lbfgs_regression_maxfun   L-BFGS and max_fun: gnet has no L-BFGS
#                           (test_lbfgs_classification is ported with adam)
# test_multioutput_regression, test_partial_fit_regression,
# test_mlp_regressor_dtypes_casting, test_mlp_vs_poisson_glm_equivalent
#                           regression: gnet has no regressor
# test_predict_proba_multilabel   multilabel: the output is a softmax over
#                           classes (test_multilabel_indicator_y_is_refused instead)
# test_sparse_matrices      gnet computes on dense Array API arrays; sparse X is
#                           scikit-learn's TypeError ("dense data is required")
# test_tolerance, test_n_iter_no_change, test_n_iter_no_change_inf
#                           tol / n_iter_no_change: gnet stops on a patience in
#                           epochs (early_stopping=N) on the validation loss
# test_adaptive_learning_rate   learning_rate="adaptive": gnet's lr_schedule
#                           specs have no plateau-driven schedule
# test_verbose_sgd          verbose: the library prints nothing (it logs)
# test_mlp_diverging_loss   regression, and gnet raises TrainingDiverged (keeping
#                           the last finite weights) where MLPRegressor records NaN
# test_mlp_sample_weight_with_early_stopping   fit takes no sample_weight
