"""Optimisers and learning-rate schedules against torch.optim as an oracle.

A 5-4-3 tanh/softmax network (float64) is built in gnet and, with the same
weights, in torch; both take five steps on the same fixed batch and the
weights must agree after every step, on every backend. L1, which torch.optim
does not offer, is checked against a hand-written NumPy update fed with torch
autograd gradients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gnet import optim  # noqa: E402
from gnet.backend import to_numpy  # noqa: E402
from gnet.network import Network  # noqa: E402

RTOL = 1e-9
ATOL = 1e-13
STEPS = 5


def batch():
    rng = np.random.default_rng(3)
    return rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)


def gnet_net(device):
    net = Network(
        [5, 4, 3], ["tanh", "softmax"], loss="cross-entropy", device=device, dtype="float64", seed=2
    )
    rng = np.random.default_rng(4)
    params = []
    for layer in net.layers:
        params += [
            np.array(to_numpy(layer.weight), copy=True),
            rng.normal(0.0, 0.2, size=layer.shape[1]),
        ]
    net.set_parameters(params)
    return net


def torch_model(net):
    """torch.nn.Sequential with the same parameters as ``net``."""
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 4, dtype=torch.float64),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 3, dtype=torch.float64),
    )
    with torch.no_grad():
        for lin, layer in zip((model[0], model[2]), net.layers, strict=True):
            lin.weight.copy_(torch.from_numpy(np.array(to_numpy(layer.weight)).T.copy()))
            lin.bias.copy_(torch.from_numpy(np.array(to_numpy(layer.bias))))
    return model


def torch_params(model):
    return [(model[0].weight, model[0].bias), (model[2].weight, model[2].bias)]


def param_groups(model, l2):
    """Weight decay (= gnet's L2) on the weights only, never on the biases."""
    weights = [model[0].weight, model[2].weight]
    biases = [model[0].bias, model[2].bias]
    return [{"params": weights, "weight_decay": l2}, {"params": biases, "weight_decay": 0.0}]


def assert_same_weights(net, model, step):
    for k, (layer, (tW, tb)) in enumerate(zip(net.layers, torch_params(model), strict=True)):
        np.testing.assert_allclose(
            to_numpy(layer.weight),
            tW.detach().numpy().T,
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"W of layer {k} after step {step}",
        )
        np.testing.assert_allclose(
            to_numpy(layer.bias),
            tb.detach().numpy(),
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"b of layer {k} after step {step}",
        )


# (id, gnet optimiser factory, torch optimiser factory taking param groups)
CASES = [
    ("sgd", lambda: optim.SGD(0.1), lambda g: torch.optim.SGD(g, lr=0.1)),
    (
        "sgd-momentum",
        lambda: optim.SGD(0.1, momentum=0.9),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
    ),
    # gnet's Nesterov (Sutskever's form, v <- mu v - lr g; W <- W + mu v - lr g)
    # and torch's (b <- mu b + g; W <- W - lr (g + mu b)) are the same update
    # for a constant learning rate, with v = -lr b.
    (
        "sgd-nesterov",
        lambda: optim.SGD(0.1, momentum=0.9, nesterov=True),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True),
    ),
    (
        "sgd-momentum-l2",
        lambda: optim.SGD(0.1, momentum=0.5, l2=0.05),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.5),
    ),
    # gnet folds both bias corrections into the step size (Kingma & Ba, Sec. 2)
    # and scales eps by sqrt(1 - beta2^t) to match, which makes its update
    # algebraically identical to Algorithm 1 (and to torch.optim.Adam), so only
    # rounding separates them: rtol 1e-9 on the weights is generous.
    ("adam", lambda: optim.Adam(0.01), lambda g: torch.optim.Adam(g, lr=0.01)),
    # A large eps makes its placement visible: an unscaled eps in the folded
    # form would change the first step by ~10 % here.
    (
        "adam-large-eps",
        lambda: optim.Adam(0.05, beta1=0.8, beta2=0.99, eps=1e-3),
        lambda g: torch.optim.Adam(g, lr=0.05, betas=(0.8, 0.99), eps=1e-3),
    ),
    # gnet's L2 is added to the gradient before the moments: torch's Adam
    # weight_decay (coupled L2), not AdamW.
    ("adam-l2", lambda: optim.Adam(0.01, l2=0.1), lambda g: torch.optim.Adam(g, lr=0.01)),
    # torch's alpha is gnet's rho; both add eps outside the square root.
    (
        "rmsprop",
        lambda: optim.RMSprop(0.01, rho=0.9),
        lambda g: torch.optim.RMSprop(g, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    (
        "rmsprop-large-eps",
        lambda: optim.RMSprop(0.02, rho=0.8, eps=1e-2),
        lambda g: torch.optim.RMSprop(g, lr=0.02, alpha=0.8, eps=1e-2),
    ),
    (
        "rmsprop-l2",
        lambda: optim.RMSprop(0.01, rho=0.9, l2=0.1),
        lambda g: torch.optim.RMSprop(g, lr=0.01, alpha=0.9, eps=1e-8),
    ),
]


def folded_step(net, opt, X, y):
    """One training step the way fit takes it: the optimiser's gradient_scale
    (SGD's learning rate) applied once to the output gradient, and step told so."""
    Xd = net.as_input(X)
    _, Y = net.as_labels(y, Xd.shape[0])
    scale = opt.gradient_scale
    net.backward(net.forward(Xd, training=True), Y, scale)
    opt.step(net.layers, scale)


@pytest.mark.parametrize("folded", [False, True], ids=["plain-step", "folded-scale"])
@pytest.mark.parametrize("make_gnet, make_torch", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_optimizer_matches_torch(device, make_gnet, make_torch, folded):
    X, y = batch()
    net = gnet_net(device)
    model = torch_model(net)
    opt = make_gnet()
    t_opt = make_torch(param_groups(model, opt.l2))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for step in range(1, STEPS + 1):
        if folded:
            folded_step(net, opt, X, y)
        else:
            net.gradients(X, y)
            opt.step(net.layers)
        t_opt.zero_grad()
        F.cross_entropy(model(Xt), yt).backward()
        t_opt.step()
        assert_same_weights(net, model, step)
    assert opt.steps == STEPS


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l1_matches_hand_update(device, momentum):
    """W <- W - lr (dW + l1 sign(W) + l2 W) (with classical momentum), biases
    unregularised; gradients from torch autograd, update in NumPy."""
    lr, l1, l2 = 0.1, 0.05, 0.02
    X, y = batch()
    net = gnet_net(device)
    model = torch_model(net)
    opt = optim.SGD(lr, momentum=momentum, l1=l1, l2=l2)
    params = [np.array(to_numpy(p), copy=True) for p in net.parameters()]
    velocity = [np.zeros_like(p) for p in params]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for step in range(1, STEPS + 1):
        with torch.no_grad():
            model[0].weight.copy_(torch.from_numpy(params[0].T.copy()))
            model[0].bias.copy_(torch.from_numpy(params[1]))
            model[2].weight.copy_(torch.from_numpy(params[2].T.copy()))
            model[2].bias.copy_(torch.from_numpy(params[3]))
        model.zero_grad()
        F.cross_entropy(model(Xt), yt).backward()
        grads = [
            model[0].weight.grad.numpy().T,
            model[0].bias.grad.numpy(),
            model[2].weight.grad.numpy().T,
            model[2].bias.grad.numpy(),
        ]
        for k, (p, g) in enumerate(zip(params, grads, strict=True)):
            if k % 2 == 0:  # a weight
                g = g + l1 * np.sign(p) + l2 * p
            velocity[k] = momentum * velocity[k] - lr * g
            params[k] = p + velocity[k]

        net.gradients(X, y)
        opt.step(net.layers)
        for k, (got, want) in enumerate(zip(net.parameters(), params, strict=True)):
            np.testing.assert_allclose(
                to_numpy(got),
                want,
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"parameter {k} after step {step}",
            )


def test_gradient_scale():
    assert optim.SGD(0.3, momentum=0.9).gradient_scale == 0.3
    assert optim.Adam(0.01).gradient_scale == optim.RMSprop(0.01).gradient_scale == 1.0


@pytest.mark.parametrize("scale", [0.5, 3.0])
@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.SGD(0.1, momentum=0.9, l1=0.01, l2=0.05),
        lambda: optim.Adam(0.01, l1=0.01, l2=0.05),
        lambda: optim.RMSprop(0.01, l1=0.01, l2=0.05),
    ],
    ids=["sgd", "adam", "rmsprop"],
)
def test_any_declared_scale_gives_the_same_update(make, scale):
    """Gradients that carry a factor, with step told which, update exactly as
    unscaled ones do, for every optimiser and with L1 and L2 on."""
    X, y = batch()
    plain, scaled = gnet_net("cpu"), gnet_net("cpu")
    opt_plain, opt_scaled = make(), make()
    for _ in range(3):
        plain.gradients(X, y)
        opt_plain.step(plain.layers)
        Xd = scaled.as_input(X)
        scaled.backward(scaled.forward(Xd, training=True), scaled.as_labels(y, 8)[1], scale)
        opt_scaled.step(scaled.layers, scale)
    for a, b in zip(plain.parameters(), scaled.parameters(), strict=True):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-12, atol=1e-15)


def test_regularisation_leaves_biases_alone():
    """With a zero gradient, L1 and L2 move the weights and not the biases."""
    net = gnet_net("cpu")
    for layer in net.layers:
        layer.dW = np.zeros(layer.shape)
        layer.db = np.zeros(layer.shape[1])
    before = [np.array(p, copy=True) for p in net.parameters()]
    optim.SGD(0.1, l1=0.1, l2=0.1).step(net.layers)
    after = net.parameters()
    for k in range(0, len(before), 2):
        W = before[k]
        np.testing.assert_allclose(after[k], W - 0.1 * (0.1 * np.sign(W) + 0.1 * W), rtol=1e-12)
        np.testing.assert_array_equal(after[k + 1], before[k + 1])


# ---------------------------------------------------------------- schedules

EPOCHS = 10
BASE_LR = 0.1


def torch_lrs(make_scheduler):
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    t_opt = torch.optim.SGD([param], lr=BASE_LR)
    scheduler = make_scheduler(t_opt)
    lrs = []
    for _ in range(EPOCHS):
        lrs.append(t_opt.param_groups[0]["lr"])
        t_opt.step()
        scheduler.step()
    return lrs


SCHEDULES = [
    ("step:2:0.5", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    (
        {"type": "step", "step_size": 3, "gamma": 0.1},
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1),
    ),
    ("exponential:0.9", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    (
        {"type": "exponential", "gamma": 0.8},
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8),
    ),
    ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS)),
    (
        "cosine:0.001",
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=0.001),
    ),
    (
        {"type": "cosine", "min_lr": 0.01},
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=0.01),
    ),
    ("  Step:2:0.5 ", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    (
        "linear:0.01",
        lambda o: torch.optim.lr_scheduler.LinearLR(
            o, start_factor=1.0, end_factor=0.01 / BASE_LR, total_iters=EPOCHS - 1
        ),
    ),
    (
        {"type": "linear"},
        lambda o: torch.optim.lr_scheduler.LinearLR(
            o, start_factor=1.0, end_factor=0.0, total_iters=EPOCHS - 1
        ),
    ),
]


@pytest.mark.parametrize("spec, make_scheduler", SCHEDULES, ids=[str(s[0]) for s in SCHEDULES])
def test_schedule_matches_torch(spec, make_scheduler):
    schedule = optim.make_schedule(spec)
    ours = [schedule(epoch, BASE_LR, EPOCHS) for epoch in range(EPOCHS)]
    np.testing.assert_allclose(ours, torch_lrs(make_scheduler), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "spec, make_scheduler", SCHEDULES[::2], ids=[str(s[0]) for s in SCHEDULES[::2]]
)
def test_fit_follows_schedule(spec, make_scheduler):
    """fit sets each epoch's learning rate from the schedule, records it in the
    History, and gives the optimiser its base rate back at the end."""
    X, y = batch()
    net = gnet_net("cpu")
    opt = optim.SGD(BASE_LR)
    history = net.fit(X, y, epochs=EPOCHS, mode="full-batch", optimizer=opt, lr_schedule=spec)
    np.testing.assert_allclose(
        history["learning_rate"], torch_lrs(make_scheduler), rtol=1e-12, atol=1e-15
    )
    assert opt.learning_rate == BASE_LR


def test_make_schedule_passes_through_none_and_callables():
    assert optim.make_schedule(None) is None

    def constant(epoch, base_lr, epochs):
        return base_lr

    assert optim.make_schedule(constant) is constant


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: optim.SGD(learning_rate=-0.1), "learning_rate"),
        (lambda: optim.SGD(learning_rate=0.0), "learning_rate"),
        (lambda: optim.SGD(learning_rate=math.nan), "learning_rate"),
        (lambda: optim.SGD(learning_rate=math.inf), "learning_rate"),
        (lambda: optim.SGD(learning_rate="0.1"), "learning_rate"),
        (lambda: optim.SGD(learning_rate=True), "learning_rate"),
        (lambda: optim.Adam(learning_rate=-1e-3), "learning_rate"),
        (lambda: optim.RMSprop(learning_rate=-1e-3), "learning_rate"),
        (lambda: optim.SGD(0.1, momentum=1.0), "momentum"),
        (lambda: optim.SGD(0.1, momentum=-0.1), "momentum"),
        (lambda: optim.SGD(0.1, momentum=math.nan), "momentum"),
        (lambda: optim.SGD(0.1, nesterov=True), "nesterov"),
        (lambda: optim.SGD(0.1, l2=-0.1), "l2"),
        (lambda: optim.SGD(0.1, l1=-0.1), "l1"),
        (lambda: optim.get_optimizer("foo"), "optimizer"),
        (lambda: optim.get_optimizer(None), "optimizer"),
        (lambda: optim.get_optimizer("sgd", learning_rate=-1.0), "learning_rate"),
    ],
)
def test_bad_optimizer_arguments(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_get_optimizer_by_name():
    opt = optim.get_optimizer(" Adam ", learning_rate=0.5, momentum=0.9, beta1=0.7)
    assert isinstance(opt, optim.Adam)
    assert (opt.learning_rate, opt.beta1) == (0.5, 0.7)
    sgd = optim.get_optimizer("sgd", learning_rate=0.2, momentum=0.5, nesterov=True, rho=0.1)
    assert isinstance(sgd, optim.SGD)
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.2, 0.5, True)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: optim.Adam(0.01, beta1=1.0), "beta1"),
        (lambda: optim.Adam(0.01, beta1=-0.1), "beta1"),
        (lambda: optim.Adam(0.01, beta2=1.0), "beta2"),
        (lambda: optim.Adam(0.01, eps=-1.0), "eps"),
        (lambda: optim.RMSprop(0.01, rho=1.5), "rho"),
        (lambda: optim.RMSprop(0.01, rho=-0.5), "rho"),
        (lambda: optim.RMSprop(0.01, eps=-1.0), "eps"),
        (lambda: optim.SGD(0.1, momentum="0.9"), "momentum"),
        (lambda: optim.SGD(0.1, l2=math.nan), "l2"),
        (lambda: optim.SGD(0.1, l1=math.inf), "l1"),
    ],
)
def test_unvalidated_optimizer_arguments(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


BAD_SCHEDULES = [
    "",
    "step",
    "step:2",
    "step:0:0.5",
    "step:2:0",
    "step:2:-0.5",
    "step:a:0.5",
    "step:2:0.5:1",
    "exponential",
    "exponential:0",
    "exponential:-0.9",
    "exponential:x",
    "cosine:0.1:2",
    "cosine:abc",
    "linear:0.1:2",
    "linear:-1",
    3,
    0.5,
    ["step", 2, 0.5],
    {"type": "step"},
    {"type": "step", "step_size": 0, "gamma": 0.5},
    {"type": "nope"},
    {"gamma": 0.5},
]


@pytest.mark.parametrize("spec", BAD_SCHEDULES, ids=[repr(s) for s in BAD_SCHEDULES])
def test_bad_schedules(spec):
    with pytest.raises(ValueError, match="lr_schedule"):
        optim.make_schedule(spec)


DOUBTFUL_SCHEDULES = [
    "step:2.5:0.5",  # silently truncated to step 2
    "exponential:inf",
    "step:2:inf",
    "cosine:nan",
    {"type": "exponential", "step_size": 3},  # read as gamma = 3
    {"type": "cosine", "gamma": 0.5},  # read as min_lr = 0.5
    {"type": "step", "step_size": 2, "gamma": 0.5, "gama": 0.1},  # unknown key ignored
]


@pytest.mark.parametrize("spec", DOUBTFUL_SCHEDULES, ids=[repr(s) for s in DOUBTFUL_SCHEDULES])
def test_doubtful_schedules_are_rejected(spec):
    with pytest.raises(ValueError, match="lr_schedule"):
        optim.make_schedule(spec)
