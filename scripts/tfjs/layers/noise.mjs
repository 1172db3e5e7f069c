// Noise layers: GaussianNoise, GaussianDropout, AlphaDropout (identity in predict).
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'noise_layers_inference', covers: ['GaussianNoise', 'GaussianDropout', 'AlphaDropout'],
    description: 'the three noise layers between Dense layers are the identity in predict',
    build: (tf) => seq(tf, [
      tf.layers.dense({ units: 5, inputShape: [4] }),
      tf.layers.gaussianNoise({ stddev: 0.5 }),
      tf.layers.gaussianDropout({ rate: 0.3 }),
      tf.layers.alphaDropout({ rate: 0.2 }),
      tf.layers.dense({ units: 2 }),
    ]),
    inputs: [{ shape: [3, 4] }],
  },
];
