"""The classic recipe keras64 replaces, verbatim on tf.keras (Keras 2: TF_USE_LEGACY_KERAS=1 makes
TensorFlow 2.21's tf.keras the tf-keras 2.21 package, as tf.keras was up to TF 2.15):

    python tfkeras_recipe.py OUT_ROOT MODEL_DIR...

For each MODEL_DIR/model.h5 writes OUT_ROOT/<model>/ {npy/weight_{i}.npy, weights.npz,
raw/weight_{i}.dat} and prints {model: {"shapes": [...], "dtypes": [...]}} as JSON."""
import json
import os
import sys
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

out_root = Path(sys.argv[1])
sys.path.insert(0, str(Path(sys.argv[2]).resolve().parents[1]))  # tests/data/interop
import make_tfkeras  # noqa: E402,F401  (registers the custom layer tfk_golden>GatedBlock)

assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
report = {}
for model_dir in map(Path, sys.argv[2:]):
    d = out_root / model_dir.name
    os.makedirs(f"{d}/npy")
    os.makedirs(f"{d}/raw")
    # --- the recipe ---
    model = tf.keras.models.load_model(model_dir / "model.h5")
    weights = model.get_weights()
    weights64 = [w.astype(np.float64) for w in weights]
    for i, w in enumerate(weights64):
        np.save(f"{d}/npy/weight_{i}.npy", w)
    np.savez(f"{d}/weights.npz", *weights64)
    for i, w in enumerate(weights64):
        mm = np.memmap(f"{d}/raw/weight_{i}.dat", dtype="float64", mode="w+", shape=w.shape)
        mm[...] = w
        mm.flush()
        del mm
    # ---
    report[model_dir.name] = {"shapes": [list(w.shape) for w in weights],
                              "dtypes": [str(w.dtype) for w in weights]}
print(json.dumps(report))
