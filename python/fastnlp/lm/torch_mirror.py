"""The same language model in PyTorch with an RNNLanguageModel's weights copied in: the oracle of
tests/test_lm.py and the peer of benchmarks/bench_lm.py (torch is imported only here)."""

import numpy as np


def torch_lm(lm):
    """A torch.nn.Module equal to ``lm`` (its weights copied; same dtype): forward(ids (B, T), state)
    -> (logits (B*T, V), new state); dropout modules use lm's p."""
    import torch
    from torch import nn

    c = lm.config
    rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "elman": nn.RNN}[c["cell"]]
    dtype = torch.float64 if lm.dtype == np.float64 else torch.float32

    class TorchLM(nn.Module):
        def __init__(self):
            super().__init__()
            V = len(lm.vocab)
            self.embedding = nn.Embedding(V, c["embed_dim"])
            self.drop = nn.Dropout(c["dropout"])
            # one module per layer, so dropout sits between layers as in RNNLanguageModel
            self.rnns = nn.ModuleList(rnn_class(c["embed_dim"] if k == 0 else c["hidden"], c["hidden"],
                                                batch_first=True) for k in range(c["layers"]))
            self.out = nn.Linear(c["hidden"], V)
            if c["tied"]:
                self.out.weight = self.embedding.weight

        def forward(self, ids, state=None):
            x = self.drop(self.embedding(ids))
            hs, cs = [], []
            for k, rnn in enumerate(self.rnns):
                s = None
                if state is not None:
                    s = (state[0][k:k + 1], state[1][k:k + 1]) if c["cell"] == "lstm" else state[0][k:k + 1]
                x, s = rnn(x, s)
                if c["cell"] == "lstm":
                    hs.append(s[0])
                    cs.append(s[1])
                else:
                    hs.append(s)
                x = self.drop(x)
            logits = self.out(x.reshape(-1, x.shape[-1]))
            return logits, (torch.cat(hs), torch.cat(cs) if cs else None)

    m = TorchLM().to(dtype)
    with torch.no_grad():
        m.embedding.weight.copy_(torch.from_numpy(lm.embedding.value))
        for k, (W_ih, W_hh, b_ih, b_hh) in enumerate(lm.rnn):
            r = m.rnns[k]
            r.weight_ih_l0.copy_(torch.from_numpy(W_ih.value))
            r.weight_hh_l0.copy_(torch.from_numpy(W_hh.value))
            r.bias_ih_l0.copy_(torch.from_numpy(b_ih.value))
            r.bias_hh_l0.copy_(torch.from_numpy(b_hh.value))
        if not c["tied"]:
            m.out.weight.copy_(torch.from_numpy(lm.W_out.value))
        m.out.bias.copy_(torch.from_numpy(lm.b_out.value))
    return m


def torch_grads(m, lm):
    """The torch model's gradients in the order of lm.parameters() (NumPy)."""
    gs = [m.embedding.weight.grad]
    for r in m.rnns:
        gs += [r.weight_ih_l0.grad, r.weight_hh_l0.grad, r.bias_ih_l0.grad, r.bias_hh_l0.grad]
    if not lm.config["tied"]:
        gs.append(m.out.weight.grad)
    gs.append(m.out.bias.grad)
    return [g.detach().numpy() for g in gs]
