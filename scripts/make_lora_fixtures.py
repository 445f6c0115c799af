#!/usr/bin/env python3
"""Writes the PEFT LoRA `.bin` test fixture under tests/data/formats/lora_bin/.

PEFT saves an adapter without safetensors as `torch.save(state_dict, "adapter_model.bin")`,
the state dict a plain dict of `base_model.model.<module>.lora_A.weight` ([r, in]) and
`...lora_B.weight` ([out, r]) tensors, next to `adapter_config.json`. This writes such a file
with the torch.save look-alike of make_format_fixtures.py (torch is not needed), and the same
tensors as `tests/data/formats/lora_reference.safetensors`, so the Rust tests can check that
both analyses agree byte for byte.

Usage (from the repository root): python3 scripts/make_lora_fixtures.py
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_format_fixtures import OUT, contiguous, save_safetensors, save_zip, st_entry  # noqa: E402

CONFIG = {
    "alpha_pattern": {},
    "auto_mapping": None,
    "base_model_name_or_path": "tiny-test-model",
    "bias": "none",
    "fan_in_fan_out": False,
    "inference_mode": True,
    "init_lora_weights": True,
    "layers_pattern": None,
    "layers_to_transform": None,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "modules_to_save": None,
    "peft_type": "LORA",
    "r": 8,
    "rank_pattern": {"v_proj": 4},
    "revision": None,
    "target_modules": ["q_proj", "v_proj"],
    "task_type": "CAUSAL_LM",
    "use_dora": False,
    "use_rslora": False,
}


def main():
    rng = np.random.default_rng(13)
    tensors = {}
    for layer in range(2):
        for proj, r in (("q_proj", 8), ("v_proj", 4)):
            base = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            a = rng.standard_normal((r, 32)).astype(np.float32)
            b = rng.standard_normal((24, r)).astype(np.float32)
            tensors[f"{base}.lora_A.weight"] = contiguous(a, a.shape)
            tensors[f"{base}.lora_B.weight"] = contiguous(b, b.shape)
    out = os.path.join(OUT, "lora_bin")
    os.makedirs(out, exist_ok=True)
    save_zip(tensors, os.path.join(out, "adapter_model.bin"))
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2, sort_keys=True)
    save_safetensors([st_entry(n, t) for n, t in tensors.items()],
                     os.path.join(OUT, "lora_reference.safetensors"))


if __name__ == "__main__":
    main()
