"""TensorFlow 2.21 and tf-keras 2.21 read keras64's TensorFlow checkpoints (issue #15):

- `tf.train.load_checkpoint(OUT)` of `--to tf-checkpoint` from every TensorFlow golden
  (tests/data/tf: TF1 Saver with a partitioned variable and two shards, TF2 Checkpoint with an
  optimizer, tf-keras and Keras 3 SavedModels, float16/bfloat16/float64 variables; and the
  tf-keras goldens' save_weights checkpoints and SavedModels) gives every key, float entries as
  float64 equal to TensorFlow's own values widened, everything else identical;
- tf-keras `model.load_weights(OUT)` loads the converted save_weights checkpoint into the same
  model built with a float64 policy: float64 weights equal to the golden weights widened,
  predictions within 1e-6 of the float32 model's;
- `load --into CHECKPOINT` (float64 weights back at the checkpoint's dtypes) reads in TensorFlow
  as the original checkpoint, and with `--dtype float64` as the converted one."""
import json
from pathlib import Path

import pytest

import interop_support as s

HERE = Path(__file__).resolve().parent
TF = s.DATA / "tf"
TFK = s.DATA / "interop" / "tfkeras"
WORKER = HERE / "tf_checkpoint_worker.py"


def inputs():
    """{id: (input given to keras64, bundle prefix TensorFlow reads)}."""
    out = {}
    for p in sorted(TF.iterdir()):
        if (p / "expected.json").exists():
            src = p / json.loads((p / "expected.json").read_text())["input"]
            prefix = src / "variables" / "variables" if (src / "saved_model.pb").exists() else src
            out[p.name] = (src, prefix)
    for p in sorted(TFK.iterdir()):
        if (p / "ckpt" / "ckpt.index").exists():
            out[f"tfkeras_{p.name}_ckpt"] = (p / "ckpt" / "ckpt", p / "ckpt" / "ckpt")
            out[f"tfkeras_{p.name}_savedmodel"] = (p / "savedmodel", p / "savedmodel" / "variables" / "variables")
    return out


INPUTS = inputs()
# mixed_float16 pins its head layer to float32 (dtype="float32" in the layer): a float64
# policy does not make it a float64 model, and TensorFlow restores a float32 variable only
# from a float32 entry.
TFKERAS = sorted(p.name for p in TFK.iterdir() if (p / "ckpt" / "ckpt.index").exists()
                 and p.name != "mixed_float16")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfck")
    jobs = []
    for name, (src, prefix) in INPUTS.items():
        out = root / name / "f64"
        (root / name).mkdir()
        s.run("convert", src, "-o", out, "--to", "tf-checkpoint", "-q")
        jobs.append({"id": f"{name}:convert", "kind": "compare", "input": str(prefix),
                     "output": str(out), "want": "float64"})
        w = root / name / "w.npz"
        s.run("convert", src, "-o", w, "--to", "npz", "-q")
        s.run("load", w, "--into", src, "-o", root / name / "back", "-q")
        jobs.append({"id": f"{name}:load", "kind": "compare", "input": str(prefix),
                     "output": str(root / name / "back"), "want": "same"})
        s.run("load", w, "--into", src, "-o", root / name / "back64", "--dtype", "float64", "-q")
        jobs.append({"id": f"{name}:load64", "kind": "compare", "input": str(prefix),
                     "output": str(root / name / "back64"), "want": "float64"})
    for model in TFKERAS:
        for kind in ("ckpt", "savedmodel"):
            jobs.append({"id": f"{model}:{kind}:tfkeras", "kind": "tfkeras", "model": model,
                         "output": str(root / f"tfkeras_{model}_{kind}" / "f64")})
    (root / "jobs.json").write_text(json.dumps(jobs))
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return s.python_json(s.VENV_PYTHON, WORKER, root / "jobs.json", env=env)


@pytest.mark.parametrize("name", sorted(INPUTS))
@pytest.mark.parametrize("what", ["convert", "load", "load64"])
def test_tensorflow_reads_the_checkpoint(results, name, what):
    assert results[f"{name}:{what}"] == "ok"


@pytest.mark.parametrize("model", TFKERAS)
@pytest.mark.parametrize("kind", ["ckpt", "savedmodel"])
def test_tfkeras_loads_it_into_the_float64_model(results, model, kind):
    assert results[f"{model}:{kind}:tfkeras"] == "ok"
