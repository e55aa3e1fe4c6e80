"""Data-parallel training over MPI (mpi4py): shards, one fused allreduce per step.

``mpiexec -n N gnet train --distributed`` (or ``gnet.run(..., distributed=True)``)
runs N copies of the same run. Every rank builds the same network from the
seed (checked with one allreduce at the start), holds the rows of its own
shard of the training file (file rows ``rank*n//N : (rank+1)*n//N``, read
alone: memory-mapped from a raw IDX file, streamed from a gzip one), and
draws the same permutation per epoch as one process. Each global batch is
then split by ownership: a rank computes the gradient of the batch rows it
holds, scaled by ``rows held / batch rows``, so the allreduced SUM of the
ranks' gradients is the one-process batch-mean gradient. The gradients of
all layers travel in ONE buffer per step; every rank then takes the same
optimiser step. Loss, correct counts, validation and test results are
reduced once per epoch (or once per evaluation).

So N ranks compute what one process computes with the same config (up to
the order of float additions), whatever N, which is also why a checkpoint
resumes with any N. Two exceptions, both documented: dropout / DropConnect
masks and augmentation shifts are drawn per rank, and batch norm uses each
rank's own batch statistics; such runs train as well but are not equal to
one process.

Failures: an error that every rank sees alike (a diverged loss after the
reduction, different initial weights) is raised on every rank; any other
exception on one rank prints one line naming the rank and calls
``MPI_Abort``, which stops every rank at once (no rank waits forever in a
collective).

CuPy arrays are staged through host memory by default; a CUDA-aware MPI
(``mpi_memory_alloc_kinds`` of ``COMM_WORLD`` lists ``cuda:device``, an MPI
4.1 query; ``GNET_MPI_CUDA_AWARE=1`` / ``0`` forces it on / off) gets the
device buffer directly.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend as B
from .errors import ConfigError, GNetError, TrainingDiverged
from .steps import chunk_step

if TYPE_CHECKING:
    from .network import Network
    from .optim import Optimizer

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'gnet[mpi]'"


def world() -> Comm:
    """The MPI world (ranks of ``mpiexec``), or a one-line ConfigError without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ConfigError(
            f"--distributed needs MPI for Python (mpi4py and an MPI): {INSTALL_HINT}"
        ) from None
    return Comm(MPI.COMM_WORLD)


class Comm:
    """An mpi4py communicator with the few collectives gnet uses."""

    def __init__(self, comm: Any):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """This rank's rows ``lo:hi`` of n (sizes differ by at most one)."""
        return self.rank * n // self.size, (self.rank + 1) * n // self.size

    def sum(self, values: Any) -> np.ndarray:
        """Element-wise sum over the ranks, as float64 on the host."""
        buf = np.array(values, dtype=np.float64).reshape(-1)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return buf

    def any(self, flag: bool) -> bool:
        return bool(self.sum([1.0 if flag else 0.0])[0] > 0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def cuda_aware(self) -> bool:
        """True when the MPI library takes CUDA device buffers (see the module notes)."""
        forced = os.environ.get("GNET_MPI_CUDA_AWARE", "").strip()
        if forced in ("0", "1"):
            return forced == "1"
        try:
            kinds = self.comm.Get_info().Get("mpi_memory_alloc_kinds") or ""
        except Exception:  # an MPI older than 4.1
            return False
        return "cuda:device" in str(kinds).split(",")


def collective(exc: BaseException) -> BaseException:
    """Mark ``exc`` as raised alike on every rank (so :func:`guard` lets it through)."""
    exc.gnet_collective = True  # type: ignore[attr-defined]
    return exc


@contextlib.contextmanager
def guard(comm: Comm) -> Iterator[None]:
    """Let collective errors through; any other exception on this rank prints
    ``gnet: error: rank R of N: ...`` and aborts every rank (MPI_Abort)."""
    try:
        yield
    except BaseException as exc:
        if comm.size == 1 or getattr(exc, "gnet_collective", False) or isinstance(exc, SystemExit):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        bad_input = isinstance(exc, (GNetError, ValueError)) and not isinstance(
            exc, TrainingDiverged
        )
        if not isinstance(exc, GNetError | ValueError | KeyboardInterrupt):
            text = f"{type(exc).__name__}: {text}"
        code = 130 if isinstance(exc, KeyboardInterrupt) else 2 if bad_input else 1
        sys.stderr.write(f"gnet: error: rank {comm.rank} of {comm.size}: {text}\n")
        sys.stderr.flush()
        # The launcher forwards each rank's output on its own schedule and
        # drops what it has not forwarded when Abort ends the job: give it
        # a moment to pass the line on.
        time.sleep(0.5)
        comm.comm.Abort(code)
        os._exit(code)  # Abort may return before the launcher ends this process


def check_same_state(comm: Comm, net: Network) -> None:
    """One allreduce (MAX of the values and of their negatives): every rank
    must hold bit-identical parameters and layer state, else a collective
    ConfigError."""
    arrays = [a for layer in net.layers for a in (*layer.params.values(), *layer.state.values())]
    host = [np.asarray(B.to_numpy(a), dtype=np.float64).reshape(-1) for a in arrays]
    values = np.concatenate(host) if host else np.zeros(0)
    finite = bool(np.all(np.isfinite(values)))
    values = np.where(np.isfinite(values), values, 0.0)
    buf = np.concatenate([values, -values, [0.0 if finite else 1.0]])
    comm.comm.Allreduce(comm.MPI.IN_PLACE, buf, op=comm.MPI.MAX)
    k = values.size
    if buf[-1] > 0:
        raise collective(ConfigError("distributed: a rank's initial weights are not finite"))
    if not np.array_equal(buf[:k], -buf[k : 2 * k]):
        raise collective(
            ConfigError(
                "distributed: the ranks' initial weights differ (each rank must build the "
                "network from the same config and seed, or resume the same checkpoint)"
            )
        )


class FusedGradients:
    """Every trainable layer's ``grads`` packed into one buffer, allreduced
    with one call, unpacked as the layers' gradients."""

    def __init__(self, comm: Comm, net: Network):
        self.comm, self.net = comm, net
        self.entries: list[tuple[int, str, tuple[int, ...], int, int]] = []
        offset = 0
        for i, layer in enumerate(net.layers):
            for name, p in layer.params.items():
                size = math.prod(p.shape)
                self.entries.append((i, name, tuple(p.shape), offset, size))
                offset += size
        self.size = offset
        xp, backend = net.xp, net.backend
        self.on_device = backend.name == "cupy" and comm.cuda_aware()
        if self.on_device:
            self.buffer: Any = xp.zeros((offset,), dtype=net.dtype, device=backend.device)
        else:
            dtype = np.float64 if net.dtype_name == "float64" else np.float32
            self.buffer = np.zeros(offset, dtype=dtype)
        self.seconds = 0.0
        self.calls = 0

    def zero(self) -> None:
        """This rank holds none of the batch's rows: it adds zeros."""
        self.buffer[...] = 0

    def pack(self, add: bool = False) -> None:
        """Copy (``add``: add) the layers' gradients into the buffer."""
        layers, buf = self.net.layers, self.buffer
        xp = self.net.xp
        for i, name, _, o, n in self.entries:
            g = layers[i].grads[name]
            flat = xp.reshape(g, (n,)) if self.on_device else B.to_numpy(g).reshape(n)
            if add:
                buf[o : o + n] += flat
            else:
                buf[o : o + n] = flat

    def allreduce(self) -> None:
        """Sum the buffer over the ranks and hand each layer its slice as ``grads``."""
        start = time.perf_counter()
        if self.on_device:
            self.net.backend.synchronize()
        self.comm.comm.Allreduce(self.comm.MPI.IN_PLACE, self.buffer, op=self.comm.MPI.SUM)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        layers, buf, backend = self.net.layers, self.buffer, self.net.backend
        host = backend.name == "numpy"
        for i, name, shape, o, n in self.entries:
            part = buf[o : o + n].reshape(shape)
            # NumPy takes views (the step may scale them in place; the next pack overwrites)
            layers[i].grads[name] = part if host or self.on_device else backend.asarray(part)


class Plan:
    """What one rank trains on: ``n`` training rows in all, of which this rank
    holds those at training indices ``owned`` (ascending; its X rows in that order)."""

    def __init__(self, comm: Comm, n: int, owned: np.ndarray, n_val: int = 0):
        self.comm, self.n, self.n_val = comm, int(n), int(n_val)
        self.owned = np.asarray(owned, dtype=np.int64)
        self.local_pos = np.full(self.n, -1, dtype=np.int64)
        self.local_pos[self.owned] = np.arange(self.owned.size)
        self.fused: FusedGradients | None = None

    @property
    def size(self) -> int:
        return self.comm.size

    def take_allreduce_seconds(self) -> float:
        """Seconds spent in the gradient allreduce since the last call."""
        if self.fused is None:
            return 0.0
        seconds, self.fused.seconds = self.fused.seconds, 0.0
        return seconds

    def prepare(self, net: Network, X: Any, y: Any, name: str = "X") -> tuple[Any, Any, Any]:
        """(X, y, one-hot Y) on the device as fit prepares them; a rank may hold no rows."""
        if int(np.shape(X)[0]) > 0:
            Xd = net.as_input(X, name)
            return (Xd, *net.as_labels(y, Xd.shape[0], "y" if name == "X" else "validation y"))
        xp, device = net.xp, net.backend.device
        return (
            xp.zeros((0, *net.input_shape), dtype=net.dtype, device=device),
            xp.zeros((0,), dtype=xp.int64, device=device),
            xp.zeros((0, net.n_classes), dtype=net.dtype, device=device),
        )

    def begin(self, net: Network, mode: str) -> None:
        """Checks at the start of fit: the mode splits, every rank holds the same weights."""
        if mode == "per-sample" and self.comm.size > 1:
            raise collective(
                ConfigError(
                    f"mode per-sample: one sample cannot be split across {self.comm.size} "
                    "ranks; use mini-batch or full-batch with --distributed"
                )
            )
        check_same_state(self.comm, net)
        if self.fused is None or self.fused.net is not net:
            self.fused = FusedGradients(self.comm, net)

    def run_epoch(
        self,
        net: Network,
        X: Any,
        Y: Any,
        y: Any,
        size: int,
        optimizer: Optimizer,
        epoch: int,
        shuffle: bool,
        augment: Any,
        batch_hooks: list[Any],
        info: dict[str, Any],
        val: tuple[Any, Any] | None,
        record_batches: bool,
    ) -> dict[str, Any]:
        """One epoch (see the module notes); returns the reduced ``loss`` (mean),
        ``correct``, ``batch_losses`` (with record_batches) and validation values."""
        assert self.fused is not None
        xp, backend, n, fused = net.xp, net.backend, self.n, self.fused
        if any(layer.stochastic for layer in net.layers):
            net._dropout_rng = backend.random_generator([net.seed, epoch, 1, self.comm.rank])
        ctx = net.training_context()
        order = None
        if shuffle and size < n:
            order = B.host_rng([net.seed, epoch]).permutation(n)
        lp = self.local_pos if order is None else self.local_pos[order]
        positions = np.flatnonzero(lp >= 0)  # epoch positions of this rank's rows
        seq = lp[positions]  # their local rows, in epoch order
        cuts = np.searchsorted(positions, np.arange(0, n + size, size)[: -(-n // size) + 1])
        cuts[-1] = seq.size
        m = int(seq.size)
        in_order = bool(np.array_equal(seq, np.arange(m)))
        idx = None if in_order else backend.asarray(seq)
        if idx is not None:
            Y, y = xp.take(Y, idx, axis=0), xp.take(y, idx)
        outputs = xp.empty((m, Y.shape[1]), dtype=net.dtype, device=backend.device)
        scale = optimizer.gradient_scale
        done = [0]
        if batch_hooks:
            info["running_loss"] = lambda: (
                float(net.total_loss(outputs[: done[0], :], Y[: done[0], :])) / max(done[0], 1)
            )
        rows = net.max_rows()
        for batch, s in enumerate(range(0, n, size)):
            e = min(s + size, n)
            a, c = int(cuts[batch]), int(cuts[batch + 1])
            if a == c:
                fused.zero()
            for k, ck in enumerate(range(a, c, rows)):  # one chunk unless over the budget
                ce = min(ck + rows, c)
                share = scale * (ce - ck) / (e - s)
                chunk_step(net, X, Y, idx, ck, ce, ctx, outputs, share, augment, epoch, batch)
                fused.pack(add=k > 0)
            fused.allreduce()
            if scale == 1.0:
                optimizer.step(net.layers)
            else:
                optimizer.step(net.layers, scale)
            done[0] = c
            if batch_hooks:
                info.update(batch=batch, samples=e)
                for cb in batch_hooks:
                    cb.on_batch_end(batch, info)
        return self._epoch_sums(net, outputs, y, Y, positions, size, val, record_batches)

    def _epoch_sums(
        self,
        net: Network,
        outputs: Any,
        y: Any,
        Y: Any,
        positions: np.ndarray,
        size: int,
        val: tuple[Any, Any] | None,
        record_batches: bool,
    ) -> dict[str, Any]:
        """The epoch's one reduction: loss and correct sums, validation, batch losses."""
        xp = net.xp
        losses = net.per_sample_loss(outputs, y, Y)
        correct = xp.sum(xp.astype(xp.argmax(outputs, axis=1) == y, xp.int64))
        values = [float(xp.sum(losses)), float(correct), 0.0, 0.0]
        if val is not None:
            values[2:] = _loss_and_correct(net, *val)
        batches = -(-self.n // size)
        if record_batches:
            host = np.asarray(B.to_numpy(losses), dtype=np.float64)
            values += np.bincount(positions // size, weights=host, minlength=batches).tolist()
        total = self.comm.sum(values)
        result: dict[str, Any] = {"loss": total[0] / self.n, "correct": total[1]}
        if val is not None:
            result["val_loss"] = total[2] / self.n_val
            result["val_accuracy"] = total[3] / self.n_val
        if record_batches:
            counts = np.full(batches, float(size))
            counts[-1] = self.n - (batches - 1) * size
            result["batch_losses"] = (total[4:] / counts).tolist()
        return result


def _loss_and_correct(net: Network, X: Any, Y: Any) -> list[float]:
    """Summed loss and correct count of prepared (X, one-hot Y) on this rank."""
    if X.shape[0] == 0:
        return [0.0, 0.0]
    xp = net.xp
    loss, pred = net._loss_and_predictions(X, Y)
    return [float(loss), float(xp.sum(xp.astype(pred == xp.argmax(Y, axis=1), xp.int64)))]
