"""What an ACE-Step 1.5 models folder holds and under which licences, without torch (the app, ``models status`` and
``available()`` ask before anything is loaded).

The official download (Hugging Face ``ACE-Step/Ace-Step1.5``) keeps each part in its own folder under the
checkpoints folder; SongBridge reads the same layout from its models folder::

    MODELS/acestep-v15-turbo/   config.json, model.safetensors, silence_latent.pt   (8 steps, no guidance)
    MODELS/acestep-v15-base/    the same files, model_version "base"               (optional: 30-50 steps, APG)
    MODELS/vae/                 config.json, diffusion_pytorch_model.safetensors    (diffusers AutoencoderOobleck)
    MODELS/Qwen3-Embedding-0.6B/ config.json, model.safetensors, tokenizer.json     (the text encoder)
"""

from __future__ import annotations

#: variant -> folder, in the order the backend prefers them (turbo: 8 steps on a CPU; base: guidance)
VARIANTS = {"turbo": "acestep-v15-turbo", "base": "acestep-v15-base"}
VAE_FOLDER = "vae"
TEXT_FOLDER = "Qwen3-Embedding-0.6B"
#: ACE-Step 1.5's code and weights (github.com/ace-step/ACE-Step-1.5, Hugging Face ACE-Step/Ace-Step1.5)
LICENCE = "MIT"
#: Qwen/Qwen3-Embedding-0.6B
TEXT_LICENCE = "Apache-2.0"
WHERE = ("download ACE-Step 1.5 (Hugging Face ACE-Step/Ace-Step1.5: the folders acestep-v15-turbo/ (or "
         "acestep-v15-base/), vae/ and Qwen3-Embedding-0.6B/) into the models folder; or create tiny random test "
         "models with `songbridge models create-tiny --kind ace-step DIR`")
#: latent frames per second of audio at 48 kHz (hop 1920); read from the VAE config where it matters
SAMPLE_RATE = 48000


def folder_of(variant: str) -> str:
    if variant not in VARIANTS:
        from engine.errors import SongBridgeError

        raise SongBridgeError(f"unknown ACE-Step variant {variant!r}: one of {', '.join(VARIANTS)}")
    return VARIANTS[variant]
