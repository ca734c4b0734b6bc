"""A stand-in for the custom layer golden>ScaledResidual of tests/data/golden/custom (its
generator's module is not part of the repository): the same variables in the same order
(scale, int32 'calls', offset, Dense 'proj'), so Keras loads the model and every weight check is
exact; its call() is GatedResidual's, so that model's predictions are compared only against
Keras's own float64 reference_f64.keras loaded with this same class."""
import keras

from interop_custom_layers import GatedResidual


@keras.saving.register_keras_serializable(package="golden")
class ScaledResidual(GatedResidual):
    counter = "calls"
