"""FFTs (outputs split into real/imaginary parts: tfjs cannot write complex .npy)."""

import tensorflow as tf

CASES = [
    dict(name="rfft", covers=["RFFT", "Real", "Imag"], description="rfft of length 8 -> real, imag",
         fn=lambda x: (tf.math.real(tf.signal.rfft(x)), tf.math.imag(tf.signal.rfft(x))), inputs=[dict(shape=[3, 8])]),
    dict(name="irfft_roundtrip", covers=["RFFT", "IRFFT"], description="irfft(rfft(x))",
         fn=lambda x: tf.signal.irfft(tf.signal.rfft(x)), inputs=[dict(shape=[2, 8])]),
    dict(name="fft_complex", covers=["FFT", "IFFT", "Complex", "ComplexAbs"],
         description="fft(complex(a, b)): real/imag, ifft roundtrip, abs",
         fn=lambda a, b: (lambda c: (tf.math.real(tf.signal.fft(c)), tf.math.imag(tf.signal.fft(c)),
                                     tf.math.real(tf.signal.ifft(tf.signal.fft(c))), tf.abs(tf.signal.fft(c))))(
             tf.complex(a, b)),
         inputs=[dict(shape=[2, 4]), dict(shape=[2, 4])]),
]
