"""New output layers on frozen features: the AU presence head (sigmoid per AU, L1+L2 penalty
on its output), per-AU detectors, the AU intensity head, and the emotion head of the
cross-dataset matrix.

The heads are Keras ``Dense`` layers on cached feature arrays. They are trained by one compiled
TensorFlow loop over all epochs (minibatch Adam): Keras ``fit`` spends most of its time
feeding a ``tf.data`` pipeline per step, which on 2 cores made a 30-epoch head take 5-7 s
instead of under 1 s. Several heads on the same features train in one loop; they share no
parameter and the loss is their sum, and Adam scales each parameter on its own, so this is
the same as training them one by one.

The paper's "sparsity inducing loss function on the output layer by combining both L2 and L1
terms" is read as an **activity** penalty on the sigmoid outputs (Keras'
``activity_regularizer=L1L2(l1, l2)``, which Keras divides by the batch size): it pushes the
predicted AU code towards few active units, "a sparse FACS coding of the input frame". A
``kernel`` penalty (sparse weights) is available as ``penalty="kernel"``.

**Weight decay** (an L2 on each head's weights; 9,216 features and a few hundred training faces
overfit without one) is chosen by :meth:`Heads.fit_selected` **inside the training side** of
each fold: a subject-disjoint validation split of the training rows (image-level where no
subjects are known) scores every value of :data:`WEIGHT_DECAY_GRID` per head (its validation
loss), and the heads are refitted on the whole training side with the value chosen for each.
Test rows are never passed to the selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class HeadSpec:
    """One output layer: ``units`` outputs, their activation and loss.

    ``loss``: ``"bce"`` (sigmoid outputs, 0/1 targets), ``"cce"`` (softmax, integer class
    targets) or ``"mse"`` (linear, real targets). Targets that are NaN are left out of the
    loss (e.g. an AU present but its intensity not coded). ``l1``/``l2``: the L1+L2 penalty,
    on the outputs (``penalty="activity"``) or the weights (``"kernel"``). ``balanced``: each
    output's positives weighted by (negatives / positives) of the training side, so each
    output is a class-balanced binary detector.
    """

    units: int
    loss: str = "bce"
    l1: float = 0.0
    l2: float = 0.0
    penalty: str = "activity"
    balanced: bool = False

    @property
    def activation(self) -> str:
        return {"bce": "sigmoid", "cce": "softmax", "mse": "linear"}[self.loss]


@dataclass(frozen=True)
class HeadConfig:
    """How heads are trained: epochs, batch, Adam's learning rate, weight decay, seed."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    #: an L2 on every head's weights. ``None``: chosen per fold and head from ``grid`` on a
    #: validation split of the training side (:meth:`Heads.fit_selected`); a number: that
    #: value, fixed, no selection.
    weight_decay: float | None = None
    grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    #: share of the training side's subjects (images, when no subjects are known) that
    #: validate the weight decay
    val_fraction: float = 0.2
    seed: int = 0


#: The weight decays :meth:`Heads.fit_selected` chooses from by default.
WEIGHT_DECAY_GRID = HeadConfig().grid


class Selection(NamedTuple):
    """What :meth:`Heads.fit_selected` chose: ``chosen`` {head: weight decay}; ``val_loss``
    {weight decay: {head: validation loss}} (empty when the decay was fixed); the training
    side's ``fit`` and ``val`` row indices it used (into the arrays passed)."""

    chosen: dict
    val_loss: dict
    fit: np.ndarray
    val: np.ndarray


def _regularizers(spec: HeadSpec):
    """(activity, kernel) regularizers of the L1+L2 penalty; the weight decay is added by the
    training loop (a variable, so one compiled loop serves every value)."""
    pen = keras.regularizers.L1L2(spec.l1, spec.l2) if spec.l1 or spec.l2 else None
    if spec.penalty not in ("activity", "kernel"):
        raise ValueError(f"penalty must be 'activity' or 'kernel', got {spec.penalty!r}")
    if spec.penalty == "kernel":
        return None, pen
    return pen, None


class Heads:
    """Dense heads named by ``specs`` on ``n_features`` standardized inputs.

    ``fit(x, targets)`` restarts from fresh weights (drawn from the seed) and a fresh
    optimiser, so one :class:`Heads` serves many fits and its loop is compiled once.
    """

    def __init__(self, n_features: int, specs: dict[str, HeadSpec],
                 config: HeadConfig = HeadConfig()):
        self.specs, self.config = dict(specs), config
        inp = keras.Input((n_features,), name="features", dtype="float32")
        outs = {}
        for name, spec in self.specs.items():
            act, ker = _regularizers(spec)
            outs[name] = keras.layers.Dense(spec.units, activation=spec.activation,
                                            activity_regularizer=act, kernel_regularizer=ker,
                                            dtype="float32", name=name)(inp)
        self.model = keras.Model(inp, outs, name="heads")
        self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        self._opt_init = [v.numpy() for v in self.optimizer.variables]
        self._loop = None
        self._decay = {n: tf.Variable(0.0, trainable=False, dtype=tf.float32)
                       for n in self.specs}
        self.mean = self.scale = None
        self.weight_decay: dict = {}  # {head: value} of the last fit

    # ------------------------------------------------------------------ training loop
    def _elementwise(self, spec: HeadSpec, y, p):
        eps = 1e-7
        if spec.loss == "bce":
            p = tf.clip_by_value(p, eps, 1 - eps)
            return -(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
        if spec.loss == "cce":
            return -y * tf.math.log(tf.clip_by_value(p, eps, 1.0))
        return tf.square(y - p)

    def _build_loop(self):
        names = list(self.specs)
        model, opt, cfg = self.model, self.optimizer, self.config

        def step(xb, ys, ws):
            with tf.GradientTape() as tape:
                out = model(xb, training=True)
                loss = tf.add_n([tf.reduce_mean(ws[i] * self._elementwise(
                    self.specs[n], ys[i], out[n])) * (self.specs[n].units
                                                      if self.specs[n].loss == "cce" else 1.0)
                    for i, n in enumerate(names)])
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
                loss = loss + tf.add_n([self._decay[n] * tf.reduce_sum(tf.square(
                    model.get_layer(n).kernel)) for n in names])
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply(grads, model.trainable_variables)
            return loss

        @tf.function(reduce_retracing=True)
        def loop(x, ys, ws, epochs, seed):
            n = tf.shape(x)[0]
            bs = cfg.batch_size
            loss = tf.constant(0.0)
            for e in tf.range(epochs):
                perm = tf.random.experimental.stateless_shuffle(tf.range(n),
                                                                seed=tf.stack([seed, e]))
                for b in tf.range(0, n, bs):
                    idx = perm[b:b + bs]
                    loss = step(tf.gather(x, idx), [tf.gather(y, idx) for y in ys],
                                [tf.gather(w, idx) for w in ws])
            return loss

        return loop

    def _reset(self, seed: int):
        rng = np.random.default_rng([self.config.seed, seed])
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.Dense):
                fan_in, fan_out = layer.kernel.shape
                lim = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as Keras draws
                layer.kernel.assign(rng.uniform(-lim, lim, (fan_in, fan_out)).astype("float32"))
                layer.bias.assign(np.zeros(fan_out, "float32"))
        for v, init in zip(self.optimizer.variables, self._opt_init, strict=True):
            v.assign(init)

    def _targets(self, targets: dict, n: int):
        ys, ws = [], []
        for name, spec in self.specs.items():
            y = np.asarray(targets[name], np.float32)
            if spec.loss == "cce":
                onehot = np.zeros((n, spec.units), np.float32)
                ok = y >= 0
                onehot[np.flatnonzero(ok), y[ok].astype(int)] = 1.0
                ys.append(onehot)
                ws.append(np.repeat(ok[:, None], spec.units, 1).astype(np.float32))
                continue
            y = y.reshape(n, -1)
            w = np.isfinite(y).astype(np.float32)
            y = np.nan_to_num(y)
            if spec.balanced:
                pos = (y * w).sum(0)
                neg = ((1 - y) * w).sum(0)
                ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0).astype(np.float32)
                w = w * np.where(y > 0.5, ratio, 1.0).astype(np.float32)
            ys.append(y)
            ws.append(w)
        return ys, ws

    def fit(self, x: np.ndarray, targets: dict, seed: int = 0,
            weight_decay: float | dict | None = None) -> Heads:
        """Train every head on features ``x`` (n, d) and ``targets`` (name -> array).

        ``weight_decay``: one value for every head or {head: value}; default the config's
        (which must then be a number: see :meth:`fit_selected`).
        """
        wd = self.config.weight_decay if weight_decay is None else weight_decay
        if wd is None:
            raise ValueError("no weight decay: give one, set HeadConfig.weight_decay, or use "
                             "fit_selected (chosen on the training side)")
        wd = {n: float(wd[n] if isinstance(wd, dict) else wd) for n in self.specs}
        for n, v in wd.items():
            self._decay[n].assign(v)
        self.weight_decay = wd
        x = np.asarray(x, np.float32)
        self.mean = x.mean(0)
        sd = x.std(0)
        # a feature that barely varies (a unit firing on a handful of faces) would be blown up
        # by 1/sd, and with it the last bits of float32/bfloat16 arithmetic: no feature is
        # scaled up more than one with a tenth of the typical spread
        live = sd[sd > 0]
        floor = 0.1 * float(np.median(live)) if len(live) else 1.0
        self.scale = np.maximum(sd, floor).astype(np.float32)
        xs = (x - self.mean) / self.scale
        ys, ws = self._targets(targets, len(x))
        self._reset(seed)
        if self._loop is None:
            self._loop = self._build_loop()
        self._loop(tf.constant(xs), [tf.constant(y) for y in ys], [tf.constant(w) for w in ws],
                   tf.constant(self.config.epochs), tf.constant(seed, tf.int32))
        return self

    def val_losses(self, x: np.ndarray, targets: dict) -> dict[str, float]:
        """Each head's data loss (as trained, without penalties) on ``x`` and ``targets``."""
        out = self.predict(x)
        ys, ws = self._targets(targets, len(x))
        res = {}
        for (name, spec), y, w in zip(self.specs.items(), ys, ws, strict=True):
            e = np.asarray(self._elementwise(spec, tf.constant(y), tf.constant(
                out[name].astype(np.float32))))
            res[name] = float((w * e).mean() * (spec.units if spec.loss == "cce" else 1.0))
        return res

    def fit_selected(self, x: np.ndarray, targets: dict, train, subjects=None,
                     seed: int = 0) -> Selection:
        """Fit on the rows ``train`` of ``x`` / ``targets`` with a weight decay per head
        chosen on the training side only.

        The rows ``train`` (a fold's training side) are split into fit and validation,
        subject-disjoint when ``subjects`` (per row of ``x``) is given, else by image (a
        seeded split); every value of the config's ``grid`` is fitted on the fit rows and
        scored by each head's validation loss (:meth:`val_losses`); the smallest loss wins
        (ties: the larger decay). The heads are then refitted on all of ``train`` with the
        chosen values. No row outside ``train`` is read. With a fixed
        ``HeadConfig.weight_decay`` there is no selection: one fit on ``train``.
        """
        from ..datasets.splits import subject_holdout

        train = np.asarray(train)
        xt = np.asarray(x)[train]
        tt = {n: np.asarray(targets[n])[train] for n in self.specs}
        local = np.arange(len(train))
        cfg = self.config
        if cfg.weight_decay is not None:
            self.fit(xt, tt, seed=seed)
            return Selection(dict(self.weight_decay), {}, train, train[:0])
        if subjects is not None:
            fit, val = subject_holdout(local, np.asarray(subjects)[train], cfg.val_fraction,
                                       seed=seed)
        else:
            perm = np.random.default_rng([cfg.seed, seed]).permutation(local)
            n_val = max(1, int(round(cfg.val_fraction * len(local))))
            fit, val = np.sort(perm[n_val:]), np.sort(perm[:n_val])
        sub = lambda idx: {n: v[idx] for n, v in tt.items()}  # noqa: E731
        losses = {}
        for wd in cfg.grid:
            self.fit(xt[fit], sub(fit), seed=seed, weight_decay=wd)
            losses[wd] = self.val_losses(xt[val], sub(val))
        chosen = {}
        for n in self.specs:
            best = min(losses[wd][n] for wd in cfg.grid)
            chosen[n] = max(wd for wd in cfg.grid if losses[wd][n] <= best)
        self.fit(xt, tt, seed=seed, weight_decay=chosen)
        return Selection(chosen, losses, train[fit], train[val])

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs of every head (probabilities, or intensities for ``"mse"`` heads)."""
        xs = (np.asarray(x, np.float32) - self.mean) / self.scale
        out = self.model(tf.constant(xs), training=False)
        return {k: np.asarray(v) for k, v in out.items()}

    def weights(self, name: str) -> np.ndarray:
        """The (d, units) kernel of head ``name`` (on standardized features)."""
        return np.asarray(self.model.get_layer(name).kernel)


@dataclass
class AUHeadSet:
    """The three AU heads of the cross-task part, on one set of features.

    - ``presence``: all AUs at once (the paper's "all-against-all"), sigmoid per AU, the
      L1+L2 penalty on its output;
    - ``per_au``: one class-balanced binary detector per AU (the "leave-one-out" way), no
      penalty (independent detectors: none shares a parameter with another);
    - ``intensity``: a linear output per AU regressing the 0-5 intensity (MSE; prediction
      clipped to 0-5, then rounded for accuracy).
    """

    n_aus: int
    l1: float = 1e-3
    l2: float = 1e-3
    penalty: str = "activity"
    specs: dict = field(init=False)

    def __post_init__(self):
        self.specs = {"presence": HeadSpec(self.n_aus, "bce", self.l1, self.l2, self.penalty),
                      "per_au": HeadSpec(self.n_aus, "bce", balanced=True),
                      "intensity": HeadSpec(self.n_aus, "mse")}


def emotion_head(n_classes: int) -> dict[str, HeadSpec]:
    """A softmax emotion head (cross-dataset variant (b))."""
    return {"emotion": HeadSpec(n_classes, "cce")}


def head_model(heads: Heads, name: str, clip: tuple[float, float] | None = None
               ) -> keras.Model:
    """Head ``name`` of fitted ``heads`` as a plain Keras model on the **raw** features.

    :class:`Heads` standardizes its inputs, ``(x - mean) / scale``, before the Dense layer;
    the model is that standardization (a Keras ``Normalization`` layer holding the training
    side's mean and variance) then the head's ``Dense`` layer with its weights, all in
    float32, so a bundle can put it on the flattened feature layer of a network. (Folding the
    standardization into the Dense weights instead loses the answer to float32 cancellation
    on features whose spread is tiny beside their mean.) ``clip``: (0, high) bounds on the
    output (a ``ReLU(max_value=high)``, e.g. (0, 5) for AU intensities).
    """
    if heads.mean is None:
        raise ValueError("the heads are not fitted yet")
    layer = heads.model.get_layer(name)
    spec = heads.specs[name]
    inp = keras.Input((heads.mean.shape[0],), name="features", dtype="float32")
    y = keras.layers.Normalization(mean=heads.mean.astype(np.float32),
                                   variance=np.square(heads.scale.astype(np.float32)),
                                   dtype="float32", name=f"{name}_standardize")(inp)
    dense = keras.layers.Dense(spec.units, activation=spec.activation, dtype="float32",
                               name=name)
    y = dense(y)
    dense.set_weights([np.asarray(layer.kernel), np.asarray(layer.bias)])
    if clip is not None:
        if clip[0] != 0:
            raise ValueError("only clips from 0 are supported (a ReLU with max_value)")
        y = keras.layers.ReLU(max_value=float(clip[1]), dtype="float32",
                              name=f"{name}_clip")(y)
    return keras.Model(inp, y, name=f"{name}_head")
