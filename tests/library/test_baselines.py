import pytest
import torch

from relight_lib.library import baselines


def _pairs(matrix, bias, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.rand(3, 8, 8, generator=g)
        y = torch.einsum("ij,jhw->ihw", matrix, x) + bias[:, None, None]
        out.append({"input": x, "target": y})
    return out


def test_identity():
    b = baselines.build_baseline("identity").fit([])
    x = torch.rand(2, 3, 4, 4)
    assert torch.equal(b.predict({"input": x}), x)


def test_colour_lstsq_recovers_an_affine_map():
    m = torch.tensor([[0.8, 0.1, 0.0], [0.05, 0.7, 0.05], [0.0, 0.1, 0.5]])
    b = torch.tensor([0.05, 0.02, 0.0])
    model = baselines.build_baseline("colour_lstsq").fit(_pairs(m, b))
    assert torch.allclose(model.matrix, m, atol=1e-5)
    assert torch.allclose(model.bias, b, atol=1e-5)
    x = torch.rand(2, 3, 5, 5)
    pred = model.predict({"input": x})
    assert pred.shape == x.shape and 0 <= pred.min() and pred.max() <= 1
    state = model.state()
    assert len(state["matrix"]) == 3 and len(state["bias"]) == 3


def test_colour_lstsq_errors():
    model = baselines.build_baseline("colour_lstsq")
    with pytest.raises(RuntimeError, match="fit"):
        model.predict({"input": torch.rand(1, 3, 2, 2)})
    with pytest.raises(ValueError, match="no training pairs"):
        model.fit([])
    with pytest.raises(ValueError, match="3, H, W"):
        model.fit([{"input": torch.rand(4, 2, 2), "target": torch.rand(4, 2, 2)}])
    with pytest.raises(KeyError, match="nearest"):
        baselines.build_baseline("nearest")
