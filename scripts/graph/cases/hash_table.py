"""Hash tables (tfjs op list ``hash_table``): tf.lookup.StaticHashTable lookups. The converter
puts the table initialisation into ``modelInitializer``; the serving graph receives the table
handle through a signature input with a ``resourceId``."""

import tensorflow as tf


class _Lookup(tf.Module):
    def __init__(self, keys, values, default):
        super().__init__()
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default)

    def __call__(self, x):
        return self.table.lookup(x)


_words = _Lookup(tf.constant(["cat", "dog", "bird", "fish"]), tf.constant([0, 1, 2, 3], tf.int64), -1)
_ints = _Lookup(tf.constant([3, 7, 11, -2], tf.int32), tf.constant([0.5, 1.5, -2.0, 4.25], tf.float32), 9.0)
_size = _Lookup(tf.constant(["a", "b", "c"]), tf.constant([10, 20, 30], tf.int32), 0)

CASES = [
    dict(name="static_hash_table_string", covers=["HashTableV2", "LookupTableFindV2"],
         description="StaticHashTable(string keys -> int64 ids, default -1).lookup(strings)",
         fn=lambda s: tf.cast(_words(s), tf.int32),
         inputs=[dict(shape=[6], dtype="string", values=["dog", "cat", "cow", "fish", "", "bird"])], track=[_words]),
    dict(name="static_hash_table_int", covers=["HashTableV2", "LookupTableFindV2"],
         description="StaticHashTable(int32 keys -> float values, default 9.0).lookup(ints)",
         fn=_ints, inputs=[dict(shape=[6], dtype="int32", values=[3, 7, 0, 11, -2, 5])],
         notes="1-D keys: tfjs 4.22 flattens the keys of LookupTableFind (a [2, 3] lookup comes back "
               "as [6]); torch_tfjs keeps TF's keys.shape + value_shape"),
    dict(name="hash_table_size", covers=["HashTableV2", "LookupTableFindV2", "LookupTableSizeV2"],
         description="lookup plus table.size()",
         fn=lambda s: (_size(s), tf.cast(_size.table.size(), tf.int32)),
         inputs=[dict(shape=[4], dtype="string", values=["a", "z", "c", "b"])], track=[_size]),
]
