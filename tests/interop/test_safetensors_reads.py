"""The safetensors library itself (safetensors.numpy.load_file, not keras64's parser) reads
keras64's safetensors output of every golden model: every float tensor F64, bit-exact, and the
order keras64 records in __metadata__ is get_weights() order."""
import json

import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

import interop_support as s


@pytest.mark.parametrize("model", s.MODELS)
def test_safetensors_load_file(model, outputs):
    path = outputs(model)["safetensors"]
    tensors = load_file(str(path))
    with safe_open(str(path), framework="numpy") as f:
        order = json.loads(f.metadata()["keras64.order"])
    assert sorted(order) == sorted(tensors)
    want = s.expected_f64(model)
    assert len(order) == len(want)
    for i, (name, w) in enumerate(zip(order, want)):
        s.assert_bit_equal(tensors[name], w, f"{model} tensor {i} '{name}'")
