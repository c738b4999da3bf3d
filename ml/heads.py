"""Supervised topic heads on fixed per-modality features: softmax regression or a one-hidden-layer MLP.

One head per branch of USV's MMF-Net (`001_*.txt` §4.2): each branch predicts the topic from its
own features and the fusion averages their probabilities. Our features are fixed (pooled
EfficientNet-Lite0, log-mel statistics, MiniLM embeddings), so a branch is just a head.

- Standardisation is fitted on the training rows only, so nothing of val/test leaks into it.
- Sample weights carry the curation: verified labels count more, known noise weighs 0 and is left
  out entirely (USV removed videos both annotators rejected).
- Class balancing (default) weights each class's examples to the same total, because USV's metric
  is mean class accuracy: an unbalanced loss would trade rare topics for frequent ones.
- Early stopping on an optional val set keeps the epoch with the lowest val loss; ~22 % label
  noise in USV's training set makes a long fit memorise wrong labels.
- Deterministic for a seed: initialisation and shuffling use their own torch.Generator.

Training needs torch; prediction is numpy only (a scoring process never loads torch for it), and
torch is imported when a head is fitted, not when this module is.
"""

from dataclasses import dataclass, field

import numpy as np

OPTIMIZERS = ("adam", "lbfgs")


def _moments(X: np.ndarray, block: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and standard deviation, accumulated in float64 block by block (no full-size
    temporary: USV-sized visual features are 1.25 GB)."""
    total, squares = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for start in range(0, len(X), block):
        part = X[start : start + block].astype(np.float64)
        total += part.sum(axis=0)
        squares += (part**2).sum(axis=0)
    mean = total / len(X)
    return mean.astype(np.float32), np.sqrt(np.maximum(squares / len(X) - mean**2, 0.0))


@dataclass
class Head:
    mean: np.ndarray  # (d,) standardisation fitted on the training rows
    scale: np.ndarray  # (d,)
    layers: list[tuple[np.ndarray, np.ndarray]]  # [(W (in, out), b (out,))]; two layers = MLP
    n_classes: int
    report: dict = field(default_factory=dict)  # epochs run, best epoch, losses: JSON
    # Temperature scaling (Guo et al. 2017), fitted on val by `calibrate`: heads trained to
    # convergence on a few hundred videos are overconfident, and a late fusion of near-0/1
    # probabilities is simply the most confident branch (measured: the fused model equalled the
    # audio head on the generated dataset until the heads were calibrated).
    temperature: float = 1.0

    @property
    def dim(self) -> int:
        return len(self.mean)

    @property
    def hidden(self) -> int:
        return self.layers[0][1].shape[0] if len(self.layers) == 2 else 0

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        *,
        sample_weight: np.ndarray | None = None,
        n_classes: int,
        hidden: int = 0,
        epochs: int = 40,
        seed: int = 0,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        present: np.ndarray | None = None,
        present_val: np.ndarray | None = None,
        balanced: bool = True,
        l2: float = 1e-4,
        lr: float = 3e-3,
        batch_size: int = 512,
        optimizer: str = "adam",
        patience: int = 8,
    ) -> "Head":
        """Fit on the rows with a label (>= 0), a positive weight and, when `present` is given,
        the modality. `epochs` counts passes over the data (Adam) or L-BFGS iterations."""
        import torch

        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {epochs}")
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(np.int64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        keep = (y >= 0) & (w > 0)
        if present is not None:
            keep &= np.asarray(present, dtype=bool)
        if not keep.any():
            raise ValueError("no training row with a label, a positive weight and this modality")
        if y[keep].max() >= n_classes:
            raise ValueError(f"a label is outside 0..{n_classes - 1}")
        X, y, w = (X, y, w) if keep.all() else (X[keep], y[keep], w[keep])
        mean, std = _moments(X)
        scale = np.where(std > 1e-6, std, 1.0).astype(np.float32)  # a constant column stays put
        if balanced:
            per_class = np.bincount(y, weights=w, minlength=n_classes)
            w = w * (w.sum() / (np.count_nonzero(per_class) * per_class[y]))
        val = None
        if X_val is not None and y_val is not None:
            yv = np.asarray(y_val).astype(np.int64)
            vkeep = (yv >= 0) & (yv < n_classes)
            if present_val is not None:
                vkeep &= np.asarray(present_val, dtype=bool)
            if vkeep.any():
                val = (np.asarray(X_val, dtype=np.float32)[vkeep], yv[vkeep])

        generator = torch.Generator().manual_seed(seed)
        sizes = [X.shape[1], *([hidden] if hidden else []), n_classes]
        params = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            last = i == len(sizes) - 2
            # He initialisation under the ReLU; the output layer starts at zero (uniform
            # probabilities), which for softmax regression is the convex problem's natural start
            std_init = 0.0 if last else np.sqrt(2.0 / n_in)
            weight = torch.randn(n_in, n_out, generator=generator) * std_init
            params += [weight.requires_grad_(), torch.zeros(n_out, requires_grad=True)]

        mean_t, scale_t = torch.from_numpy(mean), torch.from_numpy(scale)

        def forward(raw: "torch.Tensor") -> "torch.Tensor":
            z = (raw - mean_t) / scale_t  # per batch: a standardised copy of USV-sized X is 1.25 GB
            for i in range(0, len(params), 2):
                z = z @ params[i] + params[i + 1]
                if i + 2 < len(params):
                    z = torch.relu(z)
            return z

        def penalty() -> "torch.Tensor":
            return l2 * sum((params[i] ** 2).sum() for i in range(0, len(params), 2))

        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        wt = torch.from_numpy((w / w.mean()).astype(np.float32))
        val_t = (torch.from_numpy(val[0]), torch.from_numpy(val[1])) if val else None
        # the val loss is class-balanced like the training loss so that it tracks mca
        val_w = None
        if val_t is not None and balanced:
            counts = np.bincount(val[1], minlength=n_classes).astype(np.float64)
            val_w = torch.from_numpy((1.0 / counts[val[1]]).astype(np.float32))

        def val_loss() -> float:
            with torch.no_grad():
                losses = torch.nn.functional.cross_entropy(forward(val_t[0]), val_t[1], reduction="none")
                if val_w is None:
                    return float(losses.mean())
                return float((losses * val_w).sum() / val_w.sum())

        def train_loss(rows: "torch.Tensor | slice") -> "torch.Tensor":
            losses = torch.nn.functional.cross_entropy(forward(Xt[rows]), yt[rows], reduction="none")
            return (losses * wt[rows]).sum() / wt[rows].sum() + penalty()

        best = (np.inf, 0, [p.detach().clone() for p in params])
        history = []
        if optimizer == "adam":
            opt = torch.optim.Adam(params, lr=lr)
        else:
            opt = torch.optim.LBFGS(params, lr=1.0, max_iter=1, line_search_fn="strong_wolfe")
        for epoch in range(1, epochs + 1):
            if optimizer == "adam":
                order = torch.randperm(len(yt), generator=generator)
                for start in range(0, len(order), batch_size):
                    rows = order[start : start + batch_size]
                    opt.zero_grad()
                    loss = train_loss(rows)
                    loss.backward()
                    opt.step()
            else:

                def closure() -> "torch.Tensor":
                    opt.zero_grad()
                    loss = train_loss(slice(None))
                    loss.backward()
                    return loss

                opt.step(closure)
            if val_t is None:
                continue
            current = val_loss()
            history.append(round(current, 5))
            if current < best[0] - 1e-6:
                best = (current, epoch, [p.detach().clone() for p in params])
            elif epoch - best[1] >= patience:
                break
        with torch.no_grad():  # in blocks, for the memory reason above
            blocks = [slice(start, start + batch_size * 32) for start in range(0, len(yt), batch_size * 32)]
            losses = [
                torch.nn.functional.cross_entropy(forward(Xt[b]), yt[b], reduction="none") @ wt[b]
                for b in blocks
            ]
            final_train = float(sum(losses) / wt.sum() + penalty())
        if val_t is not None:
            for p, kept in zip(params, best[2], strict=True):
                p.data.copy_(kept)
        report = {
            "rows": int(len(y)),
            "epochs_run": epoch,
            "best_epoch": best[1] if val_t is not None else epoch,
            "train_loss": round(final_train, 5),
            "val_loss": round(best[0], 5) if val_t is not None else None,
            "val_rows": int(len(val[1])) if val else 0,
            "val_history": history,
        }
        layers = [
            (params[i].detach().numpy().copy(), params[i + 1].detach().numpy().copy())
            for i in range(0, len(params), 2)
        ]
        return cls(mean, scale, layers, n_classes, report)

    def logits(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"features must be (n, {self.dim}), not {X.shape}")
        z = (X - self.mean) / self.scale
        for i, (weight, bias) in enumerate(self.layers):
            z = z @ weight + bias
            if i + 1 < len(self.layers):
                z = np.maximum(z, 0.0)
        return z

    def predict_proba(self, X: np.ndarray, *, present: np.ndarray | None = None) -> np.ndarray:
        """(n, C) probabilities; rows without the modality (present False) get a uniform row,
        which `fusion.fuse` ignores because it is given the same mask."""
        z = self.logits(X) / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        if present is not None:
            p[~np.asarray(present, dtype=bool)] = 1.0 / self.n_classes
        return p

    def to_state(self) -> dict:
        """Arrays and JSON scalars only, so the model can be stored without pickle."""
        state: dict = {"n_classes": self.n_classes, "n_layers": len(self.layers), "report": self.report,
                       "temperature": self.temperature}  # fmt: skip
        state["mean"], state["scale"] = self.mean, self.scale
        for i, (weight, bias) in enumerate(self.layers):
            state[f"W{i}"], state[f"b{i}"] = weight, bias
        return state

    @classmethod
    def from_state(cls, state: dict) -> "Head":
        layers = [
            (np.asarray(state[f"W{i}"], np.float32), np.asarray(state[f"b{i}"], np.float32))
            for i in range(int(state["n_layers"]))
        ]
        return cls(
            np.asarray(state["mean"], np.float32),
            np.asarray(state["scale"], np.float32),
            layers,
            int(state["n_classes"]),
            dict(state.get("report", {})),
            float(state.get("temperature", 1.0)),
        )

    def calibrate(self, X: np.ndarray, y: np.ndarray, *, present: np.ndarray | None = None) -> float:
        """Fit the temperature on held-out rows (val) by negative log-likelihood over a log grid
        from 0.1 to 100; keeps 1.0 without labelled rows. Returns the temperature."""
        rows = np.asarray(y) >= 0
        if present is not None:
            rows &= np.asarray(present, dtype=bool)
        if not rows.any():
            return self.temperature
        z = self.logits(np.asarray(X)[rows]).astype(np.float64)
        target = np.asarray(y)[rows]
        best, best_loss = 1.0, np.inf
        for t in np.logspace(-1, 2, 61):
            scaled = z / t
            scaled -= scaled.max(axis=1, keepdims=True)
            log_p = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
            loss = -float(np.mean(log_p[np.arange(len(target)), target]))
            if loss < best_loss - 1e-12:
                best, best_loss = float(t), loss
        self.temperature = best
        return best
