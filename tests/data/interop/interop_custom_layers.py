"""The custom layer of the keras3/*/custom golden models (make_keras3.py); the interop tests
import this module before loading those models, as a user imports their own layers."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="interop")
class GatedResidual(keras.layers.Layer):
    """x + tanh(proj(x)) * scale + offset. Own float variables 'scale' and 'offset' with an int32
    counter 'steps' created between them, and a Dense sublayer 'proj' (get_weights(): own
    trainable, own non-trainable, then the sublayer's)."""

    counter = "steps"  # the int32 variable's name

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.proj = keras.layers.Dense(units, name="proj")

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")
        self.add_weight(name=self.counter, shape=(), dtype="int32", initializer="zeros",
                        trainable=False)
        self.offset = self.add_weight(name="offset", shape=(self.units,), initializer="zeros")
        self.proj.build(input_shape)

    def call(self, x):
        return x + ops.tanh(self.proj(x)) * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "units": self.units}
