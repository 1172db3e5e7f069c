"""String ops (tfjs op list ``string``): StaticRegexReplace, StringNGrams, StringSplit,
StringToHashBucketFast. String inputs are written as ``input_<i>.json`` (a nested list of str);
string outputs as ``output_<i>.json``."""

import tensorflow as tf

WORDS = dict(shape=[4], dtype="string",
             values=["hello world", "the  quick brown fox", "", "a b c d e"])
TOKENS = dict(shape=[6], dtype="string", values=["cat", "dog", "", "hello", "Ünïcode ✓", "cat"])


def _split_ngrams(s):
    # tf.strings.split uses StringSplitV2, which tfjs lacks: split with the v1 op instead
    sp = tf.compat.v1.string_split(s, delimiter=" ")
    rows = sp.indices[:, 0]  # row lengths without bincount (its size would be data-dependent)
    counts = tf.reduce_sum(tf.cast(tf.equal(rows[None, :], tf.range(s.shape[0], dtype=tf.int64)[:, None]), tf.int64), 1)
    rt = tf.RaggedTensor.from_row_splits(sp.values, tf.concat([[0], tf.cumsum(counts)], 0), validate=False)
    ng = tf.strings.ngrams(rt, 2, separator="_", pad_values=("<s>", "</s>"), padding_width=1)
    return ng.flat_values, ng.row_splits


CASES = [
    dict(name="regex_replace_global", covers=["StaticRegexReplace"],
         description="tf.strings.regex_replace with a static pattern (all matches)",
         fn=lambda s: tf.strings.regex_replace(s, "[aeiou]", "#"), inputs=[WORDS]),
    dict(name="regex_replace_first", covers=["StaticRegexReplace"],
         description="tf.strings.regex_replace, replace_global=False, group reference",
         fn=lambda s: tf.strings.regex_replace(s, r"(\w+) (\w+)", r"\2-\1", replace_global=False),
         inputs=[WORDS],
         notes="tfjs evaluates the rewrite as a JS replacement string: TF's RE2 \\2-\\1 comes out "
               "literally (TF itself would give 'world-hello'); torch_tfjs follows tfjs"),
    dict(name="to_hash_bucket_fast", covers=["StringToHashBucketFast"],
         description="tf.strings.to_hash_bucket_fast(s, 1000)",
         fn=lambda s: tf.strings.to_hash_bucket_fast(s, 1000), inputs=[TOKENS]),
    dict(name="hash_bucket_2d", covers=["StringToHashBucketFast"],
         description="to_hash_bucket_fast on a [2, 3] string tensor, 7 buckets",
         fn=lambda s: tf.strings.to_hash_bucket_fast(s, 7),
         inputs=[dict(shape=[2, 3], dtype="string", values=["a", "bb", "ccc", "dddd", "", "a"])]),
    dict(name="split_v1", covers=["StringSplit"],
         description="tf.compat.v1.string_split (sparse) on ' '",
         fn=lambda s: (lambda sp: (tf.cast(sp.indices, tf.int32), sp.values, tf.cast(sp.dense_shape, tf.int32)))(
             tf.compat.v1.string_split(s, delimiter=" ")),
         inputs=[WORDS]),
    dict(name="split_v1_keep_empty", covers=["StringSplit"],
         description="tf.compat.v1.string_split skip_empty=False, two delimiter chars",
         fn=lambda s: (lambda sp: (tf.cast(sp.indices, tf.int32), sp.values, tf.cast(sp.dense_shape, tf.int32)))(
             tf.compat.v1.string_split(s, delimiter=" o", skip_empty=False)),
         inputs=[WORDS]),
    dict(name="ngrams", covers=["StringNGrams"],
         description="tf.strings.ngrams of width 2 and 3 over a ragged row_splits input",
         fn=lambda d, splits: (lambda r: (r.flat_values, tf.cast(r.row_splits, tf.int32)))(
             tf.strings.ngrams(tf.RaggedTensor.from_row_splits(d, tf.cast(splits, tf.int64), validate=False), [2, 3],
                               separator=" ")),
         inputs=[dict(shape=[7], dtype="string", values=["a", "b", "c", "d", "e", "f", "g"]),
                 dict(shape=[4], dtype="int32", values=[0, 3, 3, 7])]),
    dict(name="ngrams_padded", covers=["StringNGrams"],
         description="tf.strings.ngrams width 3, pad_values, padding_width 2, preserve_short_sequences",
         fn=lambda d, splits: (lambda r: (r.flat_values, tf.cast(r.row_splits, tf.int32)))(
             tf.strings.ngrams(tf.RaggedTensor.from_row_splits(d, tf.cast(splits, tf.int64), validate=False), 3,
                               separator="|", pad_values=("<", ">"), padding_width=2,
                               preserve_short_sequences=True)),
         inputs=[dict(shape=[5], dtype="string", values=["x", "y", "z", "u", "v"]),
                 dict(shape=[4], dtype="int32", values=[0, 1, 1, 5])]),
    dict(name="split_v2_ngrams", covers=["StringNGrams"],
         description="v1 string_split -> ragged (row_splits) -> ngrams width 2, padded",
         fn=_split_ngrams, inputs=[WORDS]),
]
