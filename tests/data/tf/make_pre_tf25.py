"""tf-keras SavedModels laid out as TensorFlow 2.0-2.4 wrote them, from the tf-keras 2.21 goldens.

TensorFlow 2.21 cannot write a SavedModel of that age, so this rewrites the golden ones
(tests/data/interop/tfkeras/<model>/savedmodel, written by model.save(save_format="tf")) the way
the older writer laid them out:

  - tf-keras >= 2.5 keeps each Keras object's JSON (class_name, name, config, ...) in
    keras_metadata.pb (SavedMetadata: node_id, node_path, identifier, metadata). TensorFlow
    2.0-2.4 had no such file: saved_model.py's _write_object_proto put the same JSON
    (obj._tracking_metadata, the very string keras_metadata.pb stores) into that object's
    SavedUserObject.metadata, with version {producer: 1, min_consumer: 1}. So each node that
    keras_metadata.pb describes gets its metadata and that version in saved_model.pb's object
    graph, and keras_metadata.pb is not copied.
  - fingerprint.pb (TF >= 2.11) is not copied either.
  - The JSON itself is tf-keras 2.21's: keys TF 2.4 did not write yet (`full_save_spec`, which
    tf-keras derives from `save_spec` for such metadata) are kept. keras64 reads only keys TF 2.4
    wrote as well: `class_name`, `config`, `name`, `trainable`, `keras_version`.
  - Everything else (the graph, functions, the variables/ bundle) is kept as it is.

tf-keras 2.21 still reads such a SavedModel through its pre-2.5 path (load.py,
_read_legacy_metadata, with a warning "SavedModel saved prior to TF 2.5 detected"); the interop
tier checks that it loads every rewritten golden and predicts as the original does.

Deterministic: the same input gives the same bytes (serialized with deterministic=True).

    TF_CPP_MIN_LOG_LEVEL=2 .venv-interop/bin/python tests/data/tf/make_pre_tf25.py \\
        [OUT_DIR [MODEL ...]]      # default: tests/data/tf/pre_tf25, models sequential functional
"""
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tensorflow.core.framework import versions_pb2  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tf_keras.protobuf import saved_metadata_pb2  # noqa: E402

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "interop" / "tfkeras"
#: The rewritten copies committed for the main suite (the interop tier rewrites every golden).
COMMITTED = ["sequential", "functional"]


def rewrite(src, dst):
    """Writes the SavedModel folder `src` to the new folder `dst` in the pre-2.5 layout."""
    src, dst = Path(src), Path(dst)
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((src / "saved_model.pb").read_bytes())
    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((src / "keras_metadata.pb").read_bytes())
    nodes = sm.meta_graphs[0].object_graph_def.nodes
    for m in meta.nodes:
        obj = nodes[m.node_id]
        assert obj.WhichOneof("kind") == "user_object", (src, m.node_path)
        assert obj.user_object.identifier == m.identifier, (src, m.node_path)
        assert not obj.user_object.metadata, (src, m.node_path)
        obj.user_object.metadata = m.metadata
        obj.user_object.version.CopyFrom(
            versions_pb2.VersionDef(producer=1, min_consumer=1, bad_consumers=[]))
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    (dst / "saved_model.pb").write_bytes(sm.SerializeToString(deterministic=True))
    for sub in ("variables", "assets"):
        if (src / sub).is_dir():
            shutil.copytree(src / sub, dst / sub)
    return dst


def main(argv):
    out = Path(argv[0]) if argv else HERE / "pre_tf25"
    for model in argv[1:] or COMMITTED:
        d = rewrite(GOLDEN / model / "savedmodel", out / model)
        print(f"{d}: {len(list(d.rglob('*')))} files", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
