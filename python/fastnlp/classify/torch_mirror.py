"""The same networks in PyTorch with fastnlp's weights copied over (torch is optional, imported
here only): what benchmarks/bench_classify_speed.py times against and the tests compare logits and
gradients with. to_torch(net) builds the mirror; grads_from_torch(net, mirror) reads its gradients
back in fastnlp's layouts."""

import numpy as np


def _t(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def to_torch(net, sparse=True):
    """A torch.nn.Module computing net's logits from (ids, lengths) tensors, weights copied from net.
    sparse: the embeddings give sparse gradients, as fastnlp's do."""
    from .cnn import TextCNN
    from .rnn import RNNAcceptor

    if isinstance(net, TextCNN):
        return _TorchTextCNN(net, sparse)
    if isinstance(net, RNNAcceptor):
        return _TorchRNNAcceptor(net, sparse)
    raise TypeError(f"to_torch: expected a TextCNN or RNNAcceptor, got {type(net).__name__}")


def _module_classes():
    import torch
    from torch import nn

    def embedding(emb, sparse, frozen):
        e = nn.Embedding(*emb.W.value.shape, sparse=sparse)
        with torch.no_grad():
            e.weight.copy_(_t(emb.W.value))
        e.weight.requires_grad_(not frozen)
        return e

    def linear(lin):
        out_dim, in_dim = lin.W.value.shape
        m = nn.Linear(in_dim, out_dim)
        with torch.no_grad():
            m.weight.copy_(_t(lin.W.value))
            m.bias.copy_(_t(lin.b.value))
        return m

    def heads(self, net, sparse):
        self.embedding = embedding(net.embedding, sparse, net.static)
        self.static_embedding = embedding(net.static_embedding, sparse, True) if net.multichannel else None
        self.output = linear(net.output)
        self.p = net.dropout

    def embed(self, ids, lengths):
        x = self.embedding(ids)
        if self.static_embedding is not None:
            x = torch.cat([self.static_embedding(ids), x], dim=2)
        return x

    class TorchTextCNN(nn.Module):
        def __init__(self, net, sparse):
            super().__init__()
            heads(self, net, sparse)
            self.pooling = net.pooling
            self.convs = nn.ModuleList()
            for c in net.convs:
                H, KD = c.W.value.shape
                K, D = c.width, KD // c.width
                m = nn.Conv1d(D, H, K, padding=K - 1)  # wide: K - 1 zeros each side
                with torch.no_grad():
                    m.weight.copy_(_t(c.W.value.reshape(H, K, D).transpose(0, 2, 1)))
                    m.bias.copy_(_t(c.b.value))
                self.convs.append(m)

        def forward(self, ids, lengths):
            T = ids.shape[1]
            x = embed(self, ids, lengths)
            pad = torch.arange(T)[None, :] >= lengths[:, None]
            x = x.masked_fill(pad[:, :, None], 0.0).transpose(1, 2)  # positions past a length are zeros
            feats = []
            for conv in self.convs:
                y = torch.relu(conv(x))  # (B, H, T + K - 1)
                n_out = lengths + conv.kernel_size[0] - 1
                valid = torch.arange(y.shape[2])[None, :] < n_out[:, None]
                if self.pooling == "max":
                    feats.append(y.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2))
                else:
                    feats.append((y * valid[:, None, :]).sum(dim=2) / n_out[:, None].to(y.dtype))
            h = torch.nn.functional.dropout(torch.cat(feats, dim=1), self.p, self.training)
            return self.output(h)

    class TorchRNNAcceptor(nn.Module):
        def __init__(self, net, sparse):
            super().__init__()
            heads(self, net, sparse)
            self.pooling, self.cell = net.pooling, net.cell
            cls = {"lstm": nn.LSTM, "gru": nn.GRU, "elman": nn.RNN}[net.cell]
            self.rnn = cls(net.embed_dim, net.hidden, net.layers, batch_first=True,
                           bidirectional=net.bidirectional)
            self.dirs = 2 if net.bidirectional else 1
            with torch.no_grad():
                for name, value in _rnn_weights(net):
                    getattr(self.rnn, name).copy_(_t(value))

        def forward(self, ids, lengths):
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

            x = embed(self, ids, lengths)
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, h_n = self.rnn(packed)
            if self.cell == "lstm":
                h_n = h_n[0]
            if self.pooling == "last":
                h = torch.cat(list(h_n[-self.dirs:]), dim=1)
            else:
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
                if self.pooling == "mean":
                    h = out.sum(dim=1) / lengths[:, None].to(out.dtype)
                else:
                    pad = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
                    h = out.masked_fill(pad[:, :, None], float("-inf")).amax(dim=1)
            h = torch.nn.functional.dropout(h, self.p, self.training)
            return self.output(h)

    return TorchTextCNN, TorchRNNAcceptor


def _rnn_weights(net):
    """(torch parameter name, array) for every recurrent weight of an RNNAcceptor."""
    rnn = net.rnn
    pairs = []
    if net.bidirectional:
        stacks = [(k, "", rnn.forward_layers[k].layers[0]) for k in range(net.layers)]
        stacks += [(k, "_reverse", rnn.backward_layers[k].layers[0]) for k in range(net.layers)]
    else:
        stacks = [(k, "", layer) for k, layer in enumerate(rnn.layers)]
    for k, suffix, layer in stacks:
        for ours, theirs in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            pairs.append((f"{theirs}_l{k}{suffix}", getattr(layer, ours).value))
    return pairs


def _TorchTextCNN(net, sparse):
    return _module_classes()[0](net, sparse)


def _TorchRNNAcceptor(net, sparse):
    return _module_classes()[1](net, sparse)


def grads_from_torch(net, mirror):
    """{Parameter name path: gradient array in fastnlp's layout} of the mirror's trainable weights
    (embedding gradients dense (V, E)); keys match named_gradients(net)."""
    import torch

    def g(p):
        if p.grad is None:
            return None
        grad = p.grad.to_dense() if p.grad.is_sparse else p.grad
        return grad.detach().numpy()

    out = {"output.W": g(mirror.output.weight), "output.b": g(mirror.output.bias)}
    if not net.static:
        out["embedding.W"] = g(mirror.embedding.weight)
    from .cnn import TextCNN

    if isinstance(net, TextCNN):
        for k, (c, m) in enumerate(zip(net.convs, mirror.convs)):
            H, D, K = m.weight.shape
            out[f"convs.{k}.W"] = g(m.weight).transpose(0, 2, 1).reshape(H, K * D)
            out[f"convs.{k}.b"] = g(m.bias)
    else:
        for name, _ in _rnn_weights(net):
            out["rnn." + name] = g(getattr(mirror.rnn, name))
    del torch
    return out


def named_gradients(net):
    """The same keys as grads_from_torch, from fastnlp's Parameters (sparse embedding rows made dense)."""
    from .cnn import TextCNN

    def dense(p):
        if p.sparse_grad is None:
            return p.grad
        ids, rows = p.sparse_grad
        G = np.zeros_like(p.value)
        np.add.at(G, ids, rows)
        return G

    out = {"output.W": net.output.W.grad, "output.b": net.output.b.grad}
    if not net.static:
        out["embedding.W"] = dense(net.embedding.W)
    if isinstance(net, TextCNN):
        for k, c in enumerate(net.convs):
            out[f"convs.{k}.W"], out[f"convs.{k}.b"] = c.W.grad, c.b.grad
    else:
        layer_of = {}
        if net.bidirectional:
            for k in range(net.layers):
                layer_of[(k, "")] = net.rnn.forward_layers[k].layers[0]
                layer_of[(k, "_reverse")] = net.rnn.backward_layers[k].layers[0]
        else:
            for k, layer in enumerate(net.rnn.layers):
                layer_of[(k, "")] = layer
        for (k, suffix), layer in layer_of.items():
            for ours, theirs in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"),
                                 ("b_hh", "bias_hh")):
                out[f"rnn.{theirs}_l{k}{suffix}"] = getattr(layer, ours).grad
    return out
