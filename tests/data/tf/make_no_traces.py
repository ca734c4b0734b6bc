"""tf-keras SavedModels saved with save_traces=False, and their get_weights() order.

Such a SavedModel has no `variables` lists (tf-keras attaches them, with the traced functions,
only when it saves traces: tf_keras/src/saving/legacy/saved_model/base_serialization.py
trackable_children returns nothing otherwise), so keras64 rebuilds the order from the object graph
and keras_metadata.pb (src/sources/tf_keras_weights.hpp). Each case is a golden model
(tests/data/interop/tfkeras/<model>/model.h5) loaded by tf-keras 2.21 (compile=False), some of its
layers frozen, and saved again:

  <OUT>/<case>/saved/          model.save(..., save_format="tf", save_traces=False)
  <OUT>/<case>/expected.json   {"model": golden name, "frozen": [layer names],
                                "weights": [variable names (":0" cut) in model.weights order]}

The values are the golden's (weights_f64.npz, matched by name); a frozen layer only reorders
them (tf-keras lists all its weights as non-trainable, its own before its sublayers').

    TF_CPP_MIN_LOG_LEVEL=2 .venv-interop/bin/python tests/data/tf/make_no_traces.py \\
        [OUT_DIR [CASE ...]]      # default: tests/data/tf/no_traces, the committed CASES
"""
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "interop" / "tfkeras"
sys.path.insert(0, str(GOLDEN.parent))
import make_tfkeras  # noqa: E402  (tf_keras, with the golden custom layer registered)

keras = make_tfkeras.keras

#: case -> (golden model, layers to freeze), the committed ones: a custom layer owning a
#: trainable and a non-trainable variable and two Dense sublayers, as saved and frozen; a nested
#: model and a shared layer; MultiHeadAttention's four sublayers.
CASES = {
    "custom": ("custom", []),
    "custom_frozen": ("custom", ["gated"]),
    "functional": ("functional", []),
    "mha": ("mha", []),
}


def make(model, frozen, out):
    """Saves golden `model` (layers `frozen` set trainable=False) without traces into `out`/saved;
    returns the expected.json document."""
    m = keras.models.load_model(GOLDEN / model / "model.h5", compile=False)
    for name in frozen:
        m.get_layer(name).trainable = False
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    m.save(out / "saved", save_format="tf", save_traces=False)
    doc = {"model": model, "frozen": frozen,
           "weights": [w.name[:-2] if w.name.endswith(":0") else w.name for w in m.weights]}
    (out / "expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def main(argv):
    out = Path(argv[0]) if argv else HERE / "no_traces"
    for case in argv[1:] or CASES:
        doc = make(*CASES[case], out / case)
        print(f"{case}: {len(doc['weights'])} weights", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
