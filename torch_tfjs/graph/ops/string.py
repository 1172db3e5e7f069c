"""String ops (tfjs op list ``string``): StaticRegexReplace, StringNGrams, StringSplit,
StringToHashBucketFast.

String tensors are NumPy object arrays of ``bytes`` (UTF-8) at run time: torch has no string
dtype. The ops here are plain module-level Python functions over those arrays; their numeric
outputs (split indices, n-gram splits, hash buckets) are int32 torch tensors. They run eagerly;
under ``torch.compile`` every one of them is a graph break (dynamo cannot trace object arrays),
so the numeric parts around them still compile. With all inputs known at load time they are
constant-folded like any other op.

Semantics follow the tfjs 4.22 CPU kernels (``StringNGrams_impl``, ``StringSplit_impl``,
``StringToHashBucketFast_impl`` with tfjs-core's ``fingerPrint64``, ``StaticRegexReplace``):

* ``StaticRegexReplace`` evaluates the pattern as a JavaScript ``RegExp`` and the rewrite as a JS
  replacement string (``$1``, ``$&``, ``$$`` …), as tfjs's ``String.prototype.replace`` does — not
  as TF's RE2 rewrite (``\\1``): a TF model whose rewrite uses ``\\1`` gets the literal text in
  tfjs, and here too. The pattern runs on Python ``re`` with ``re.ASCII`` (JS ``\\w`` / ``\\d`` are
  ASCII-only); exotic syntax that differs between JS and Python regexes is not translated.
* ``StringSplit`` splits on every byte of ``delimiter`` (an empty delimiter splits into bytes);
  an empty input string yields no token even with ``skip_empty=False``.
* ``StringToHashBucketFast`` is ``Fingerprint64(bytes) % num_buckets`` (farmhash
  Fingerprint64, as TF and tfjs compute it).
"""

from __future__ import annotations

import re
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np
import torch

from ..node import OpNode, Value
from ..registry import register_op

# --- string arrays ------------------------------------------------------------------------------


def to_bytes(value: Any) -> bytes:
    """One string element as bytes (str is UTF-8 encoded)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview, np.bytes_)):
        return bytes(value)
    if isinstance(value, np.str_):
        return str(value).encode("utf-8")
    raise TypeError(f"expected a string element (str or bytes), got {type(value).__name__}")


def as_string_array(value: Any) -> np.ndarray:
    """A string tensor: a NumPy object array of bytes (from str / bytes / nested lists /
    NumPy unicode or bytes arrays)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        flat = value.reshape(-1)
        if all(isinstance(v, bytes) for v in flat):
            return value
    if isinstance(value, torch.Tensor):
        raise TypeError("a string input cannot be a torch tensor; pass str / bytes (lists or arrays)")
    arr = np.asarray(value, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    flat_out = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        flat_out[i] = to_bytes(v)
    return out


def _scalar_bytes(value: Any) -> bytes:
    arr = as_string_array(value)
    if arr.size != 1:
        raise ValueError(f"expected a scalar string, got shape {list(arr.shape)}")
    return arr.reshape(-1)[0]


def _ints(value: Any) -> List[int]:
    if isinstance(value, torch.Tensor):
        return [int(v) for v in value.reshape(-1).tolist()]
    return [int(v) for v in np.asarray(value).reshape(-1).tolist()]


# --- Fingerprint64 (farmhash, as tfjs-core's hash_util) -----------------------------------------

_M = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _fetch(s: bytes, offset: int, n: int) -> int:
    return int.from_bytes(s[offset:offset + n], "little")


def _rot(v: int, shift: int) -> int:
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _hash_len16(u: int, v: int, mul: int = 0x9DDFEA08EB382D69) -> int:
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _weak_hash32(s: bytes, offset: int, a: int, b: int) -> Tuple[int, int]:
    w, x, y, z = (_fetch(s, offset + 8 * i, 8) for i in range(4))
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def _hash_0_to_16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = (_K2 + n * 2) & _M
        a = (_fetch(s, 0, 8) + _K2) & _M
        b = _fetch(s, n - 8, 8)
        c = (_rot(b, 37) * mul + a) & _M
        d = ((_rot(a, 25) + b) * mul) & _M
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M
        a = _fetch(s, 0, 4)
        return _hash_len16(((a << 3) + n) & _M, _fetch(s, n - 4, 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((_K2 * y) ^ (_K0 * z)) & _M) * _K2) & _M
    return _K2


def _hash_17_to_32(s: bytes) -> int:
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch(s, 0, 8) * _K1) & _M
    b = _fetch(s, 8, 8)
    c = (_fetch(s, n - 8, 8) * mul) & _M
    d = (_fetch(s, n - 16, 8) * _K2) & _M
    return _hash_len16((_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M,
                       (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)


def _hash_33_to_64(s: bytes) -> int:
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch(s, 0, 8) * _K2) & _M
    b = _fetch(s, 8, 8)
    c = (_fetch(s, n - 8, 8) * mul) & _M
    d = (_fetch(s, n - 16, 8) * _K2) & _M
    y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
    z = _hash_len16(y, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
    e = (_fetch(s, 16, 8) * mul) & _M
    f = _fetch(s, 24, 8)
    g = ((y + _fetch(s, n - 32, 8)) * mul) & _M
    h = ((z + _fetch(s, n - 24, 8)) * mul) & _M
    return _hash_len16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M,
                       (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def fingerprint64(data: Any) -> int:
    """farmhash ``Fingerprint64`` of a byte string (str is UTF-8 encoded), as an unsigned int."""
    s = to_bytes(data)
    n = len(s)
    if n <= 16:
        return _hash_0_to_16(s)
    if n <= 32:
        return _hash_17_to_32(s)
    if n <= 64:
        return _hash_33_to_64(s)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M
    z = (_shift_mix((y * _K2 + 113) & _M) * _K2) & _M
    v = [0, 0]
    w = [0, 0]
    x = (x * _K2 + _fetch(s, 0, 8)) & _M
    offset = 0
    end = ((n - 1) >> 6) * 64
    last64 = end + ((n - 1) & 63) - 63
    while True:
        x = (_rot((x + y + v[0] + _fetch(s, offset + 8, 8)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _fetch(s, offset + 48, 8)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _fetch(s, offset + 40, 8)) & _M
        z = (_rot((z + w[0]) & _M, 33) * _K1) & _M
        v = list(_weak_hash32(s, offset, (v[1] * _K1) & _M, (x + w[0]) & _M))
        w = list(_weak_hash32(s, offset + 32, (z + w[1]) & _M, (y + _fetch(s, offset + 16, 8)) & _M))
        z, x = x, z
        offset += 64
        if offset == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M
    offset = last64
    w[0] = (w[0] + ((n - 1) & 63)) & _M
    v[0] = (v[0] + w[0]) & _M
    w[0] = (w[0] + v[0]) & _M
    x = (_rot((x + y + v[0] + _fetch(s, offset + 8, 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v[1] + _fetch(s, offset + 48, 8)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _fetch(s, offset + 40, 8)) & _M
    z = (_rot((z + w[0]) & _M, 33) * mul) & _M
    v = list(_weak_hash32(s, offset, (v[1] * mul) & _M, (x + w[0]) & _M))
    w = list(_weak_hash32(s, offset + 32, (z + w[1]) & _M, (y + _fetch(s, offset + 16, 8)) & _M))
    z, x = x, z
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M,
                       (_hash_len16(v[1], w[1], mul) + x) & _M, mul)


def string_to_hash_bucket_fast(x: Any, num_buckets: int) -> torch.Tensor:
    arr = as_string_array(x)
    out = [fingerprint64(v) % num_buckets for v in arr.reshape(-1)]
    return torch.tensor(out, dtype=torch.int32).reshape(arr.shape)


# --- StaticRegexReplace ---------------------------------------------------------------------------

_JS_REPLACEMENT = re.compile(r"\$(\$|&|`|'|<[^>]*>|\d{1,2})")


def _js_replacement(rewrite: str, pattern: "re.Pattern[str]") -> Callable[["re.Match[str]"], str]:
    """A ``re.sub`` callback evaluating a JavaScript replacement string (``$1``, ``$&`` …)."""
    pieces: List[Any] = []
    pos = 0
    for m in _JS_REPLACEMENT.finditer(rewrite):
        pieces.append(rewrite[pos:m.start()])
        token = m.group(1)
        if token == "$":
            pieces.append("$")
        elif token == "&":
            pieces.append(("group", 0))
        elif token == "`":
            pieces.append(("before",))
        elif token == "'":
            pieces.append(("after",))
        elif token.startswith("<"):
            name = token[1:-1]
            pieces.append(("group", name) if name in pattern.groupindex else m.group(0))
        else:  # $n / $nn: the longest valid group number, as JS does
            if int(token) <= pattern.groups and int(token) > 0:
                pieces.append(("group", int(token)))
            elif len(token) == 2 and 0 < int(token[0]) <= pattern.groups:
                pieces += [("group", int(token[0])), token[1]]
            else:
                pieces.append(m.group(0))
        pos = m.end()
    pieces.append(rewrite[pos:])

    def replace(match: "re.Match[str]") -> str:
        out = []
        for p in pieces:
            if isinstance(p, str):
                out.append(p)
            elif p[0] == "group":
                out.append(match.group(p[1]) or "")
            elif p[0] == "before":
                out.append(match.string[:match.start()])
            else:
                out.append(match.string[match.end():])
        return "".join(out)

    return replace


def _compile(pattern: str) -> "re.Pattern[str]":
    # JS named groups (?<name>…) are Python's (?P<name>…)
    return re.compile(re.sub(r"\(\?<(?![=!])", "(?P<", pattern), re.ASCII)


def static_regex_replace(x: Any, pattern: str, rewrite: str, replace_global: bool) -> np.ndarray:
    arr = as_string_array(x)
    regex = _compile(pattern)
    repl = _js_replacement(rewrite, regex)
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1)):
        text = v.decode("utf-8", errors="replace")
        flat[i] = regex.sub(repl, text, count=0 if replace_global else 1).encode("utf-8")
    return out


# --- StringSplit ---------------------------------------------------------------------------------


def _split_one(s: bytes, delimiters: bytes, skip_empty: bool) -> List[bytes]:
    if not s:
        return []
    if not delimiters:
        return [s[i:i + 1] for i in range(len(s))]
    tokens: List[bytes] = []
    start = 0
    for i in range(len(s) + 1):
        if i == len(s) or s[i] in delimiters:
            token = s[start:i]
            if not skip_empty or token:
                tokens.append(token)
            start = i + 1
    return tokens


def string_split(x: Any, delimiter: Any, skip_empty: bool) -> Tuple[torch.Tensor, np.ndarray, torch.Tensor]:
    """tf.compat.v1.string_split: (indices [n, 2] int32, values [n] strings, dense shape [2])."""
    arr = as_string_array(x)
    if arr.ndim != 1:
        raise ValueError(f"StringSplit input must be 1-D, got shape {list(arr.shape)}")
    delim = _scalar_bytes(delimiter)
    indices: List[Tuple[int, int]] = []
    values: List[bytes] = []
    widest = 0
    for row, s in enumerate(arr):
        tokens = _split_one(s, delim, skip_empty)
        indices += [(row, j) for j in range(len(tokens))]
        values += tokens
        widest = max(widest, len(tokens))
    out_values = np.empty(len(values), dtype=object)
    out_values[:] = values
    idx = torch.tensor(indices, dtype=torch.int32).reshape(-1, 2)
    return idx, out_values, torch.tensor([len(arr), widest], dtype=torch.int32)


# --- StringNGrams --------------------------------------------------------------------------------


def string_ngrams(data: Any, splits: Any, separator: bytes, widths: Sequence[int], left_pad: bytes,
                  right_pad: bytes, pad_width: int, preserve_short: bool) -> Tuple[np.ndarray, torch.Tensor]:
    """tf.strings.ngrams over a ragged (values, row_splits) input: (ngrams, ngram row splits)."""
    values = list(as_string_array(data).reshape(-1))
    split_list = _ints(splits)
    n = len(values)
    if split_list:
        if split_list[0] != 0:
            raise ValueError(f"First split value must be 0, got {split_list[0]}")
        for prev, cur in zip(split_list, split_list[1:]):
            if not prev <= cur <= n:
                raise ValueError(f"Invalid split value {cur}, must be in [{prev}, {n}]")
        if split_list[-1] != n:
            raise ValueError(f"Last split value must be data size. Expected {n}, got {split_list[-1]}")
    if n == 0 or not split_list:
        return np.empty(0, dtype=object), torch.zeros(len(split_list), dtype=torch.int32)

    def pad_for(width: int) -> int:
        return min(width - 1 if pad_width < 0 else pad_width, width - 1)

    def count(length: int, width: int) -> int:
        return max(0, length + 2 * pad_for(width) - width + 1)

    def make(start: int, num: int, width: int) -> List[bytes]:
        pad = pad_for(width)
        out = []
        for k in range(num):
            left = max(0, pad - k)
            right = max(0, pad - (num - (k + 1)))
            tokens = width - (left + right)
            first = start + (0 if left > 0 else k - pad)
            parts = [left_pad] * left + values[first:first + max(tokens, 0)] + [right_pad] * right
            out.append(separator.join(parts))
        return out

    ngrams: List[bytes] = []
    out_splits = [0]
    for row in range(len(split_list) - 1):
        start, length = split_list[row], split_list[row + 1] - split_list[row]
        produced = []
        for width in widths:
            produced += make(start, count(length, width), width)
        if preserve_short and not produced and length > 0:
            # the whole (padded) sequence as one n-gram
            produced = make(start, 1, length + 2 * pad_width)
        ngrams += produced
        out_splits.append(len(ngrams))
    out = np.empty(len(ngrams), dtype=object)
    out[:] = ngrams
    return out, torch.tensor(out_splits, dtype=torch.int32)


# --- emitters ------------------------------------------------------------------------------------


def _attr_bytes(node: OpNode, key: str, default: bytes = b"") -> bytes:
    value = node.attr(key, None)
    if value is None:
        return default
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _attr_text(node: OpNode, key: str) -> str:
    value = node.attr(key, None)
    if value is None:
        raise node.error(f"missing attr '{key}'")
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


@register_op("StaticRegexReplace")
def static_regex_replace_op(node: OpNode) -> Value:
    pattern = _attr_text(node, "pattern")
    try:
        _compile(pattern)
    except re.error as exc:
        raise node.error(f"pattern {pattern!r} cannot be compiled: {exc}") from exc
    return node.call(static_regex_replace, node.input(0), pattern, _attr_text(node, "rewrite"),
                     node.attr_bool("replace_global", True))


@register_op("StringSplit")
def string_split_op(node: OpNode) -> List[Value]:
    out = node.call(string_split, node.input(0), node.input(1), node.attr_bool("skip_empty", True))
    return node.outputs(out, 3)


@register_op("StringNGrams")
def string_ngrams_op(node: OpNode) -> List[Value]:
    widths = [int(w) for w in node.attr_list("ngram_widths")]
    if not widths or any(w < 1 for w in widths):
        raise node.error(f"ngram_widths must be positive, got {widths}")
    out = node.call(string_ngrams, node.input(0), node.input(1), _attr_bytes(node, "separator", b" "),
                    widths, _attr_bytes(node, "left_pad"), _attr_bytes(node, "right_pad"),
                    node.attr_int("pad_width", -1), node.attr_bool("preserve_short_sequences", False))
    return node.outputs(out, 2)


@register_op("StringToHashBucketFast")
def string_to_hash_bucket_fast_op(node: OpNode) -> Value:
    buckets = node.attr_int("num_buckets", 0)
    if not buckets or buckets < 1:
        raise node.error(f"num_buckets must be >= 1, got {buckets}")
    return node.call(string_to_hash_bucket_fast, node.input(0), buckets)
