"""Signature variants of converter fixtures, as real artifacts carry them, with tfjs references.

Converter output of 2019–2021 often has a signature that lists outputs only, kept in
``userDefinedMetadata.signature``; tfjs then feeds the graph's Placeholders. This copies a fixture
made by the real converter (``tests/fixtures/graph/<category>/<case>``), rewrites only its
signature, and runs it with tfjs (``scripts/tfjs/run_graph_model.mjs``) for the reference:

    python scripts/graph/make_signature_variants.py        # (needs Node + scripts/node_modules)
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "graph"

#: name → (source case, what to do with the signature)
VARIANTS = {
    "signature_outputs_only": ("graph/identity", "outputs_only_in_metadata"),
}


def rewrite(model: dict, how: str) -> None:
    signature = model.pop("signature")
    if how == "outputs_only_in_metadata":
        metadata = model.setdefault("userDefinedMetadata", {})
        metadata["signature"] = {"outputs": signature["outputs"]}
    else:  # pragma: no cover
        raise ValueError(how)


def make(name: str, source: str, how: str) -> None:
    src, dst = FIXTURES / source, FIXTURES / "graph" / name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix == ".bin" or f.name == "input_0.npy" or f.name.startswith("input_"):
            shutil.copy(f, dst / f.name)
    model = json.loads((src / "model.json").read_text())
    rewrite(model, how)
    (dst / "model.json").write_text(json.dumps(model))
    case = json.loads((src / "case.json").read_text())
    placeholders = [n["name"] for n in model["modelTopology"]["node"] if n["op"] == "Placeholder"]
    case.update(name=name, description=f"{source} with its signature rewritten: {how.replace('_', ' ')} "
                "(tfjs then feeds the Placeholders)",
                generator=case["generator"] + f"; signature rewritten by {Path(__file__).name}")
    case["inputs"] = [{"file": f"input_{i}.npy", "name": n} for i, n in enumerate(placeholders)]
    (dst / "case.json").write_text(json.dumps(case, indent=2) + "\n")
    out = subprocess.run(["node", "tfjs/run_graph_model.mjs", str(dst)], cwd=ROOT / "scripts",
                         capture_output=True, text=True, check=True)
    print(name, out.stdout.strip())


if __name__ == "__main__":
    for variant, (case_dir, mode) in VARIANTS.items():
        make(variant, case_dir, mode)
