"""The ACE-Step 1.5 files in the models folder, laid out as the official download is (``catalog.py``), found and
checked without reading any weights: every config parsed, every weights file's header held against the official key layout
(``layout.py``), and each weights file's sha256 (remembered per path, size and mtime, so a 4.8 GB file is hashed
once) with its licence for the take's record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

from .catalog import LICENCE, TEXT_FOLDER, TEXT_LICENCE, VAE_FOLDER, VARIANTS, WHERE

#: the official Qwen3-Embedding tokenizer files; tokenizer.json is the one read (``tokenizers``)
TOKENIZER = "tokenizer.json"
MODEL_ID_FILE = "MODEL_ID"


class AceStepFilesError(SongBridgeError):
    """An ACE-Step file is missing, unreadable or does not fit; the message names it and why."""


@dataclass(frozen=True)
class AceStepFiles:
    root: Path
    variant: str  # turbo | base
    dit_dir: Path
    vae_dir: Path
    text_dir: Path

    @property
    def dit_config(self) -> Path:
        return self.dit_dir / "config.json"

    @property
    def dit_weights(self) -> Path:
        return self.dit_dir / "model.safetensors"

    @property
    def silence_latent(self) -> Path:
        return self.dit_dir / "silence_latent.pt"

    @property
    def vae_config(self) -> Path:
        return self.vae_dir / "config.json"

    @property
    def vae_weights(self) -> Path:
        return self.vae_dir / "diffusion_pytorch_model.safetensors"

    @property
    def text_config(self) -> Path:
        return self.text_dir / "config.json"

    @property
    def text_weights(self) -> Path:
        return self.text_dir / "model.safetensors"

    @property
    def tokenizer(self) -> Path:
        return self.text_dir / TOKENIZER

    @property
    def model_id(self) -> str:
        """``acestep-v15-turbo`` (the folder's name), or what a ``MODEL_ID`` file beside its config says (the tiny
        random models say so)."""
        marker = self.dit_dir / MODEL_ID_FILE
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() else self.dit_dir.name

    def all_files(self) -> list[Path]:
        return [self.dit_config, self.dit_weights, self.silence_latent, self.vae_config, self.vae_weights,
                self.text_config, self.text_weights, self.tokenizer]

    def weights(self) -> list[tuple[str, Path, str]]:
        """(what, file, licence) for every weights file a take depends on."""
        return [(f"{self.model_id} (DiT, condition encoder, audio tokenizer)", self.dit_weights, LICENCE),
                (f"{self.model_id} silence latent", self.silence_latent, LICENCE),
                ("ACE-Step 1.5 VAE (AutoencoderOobleck)", self.vae_weights, LICENCE),
                ("Qwen3-Embedding-0.6B (text encoder)", self.text_weights, TEXT_LICENCE)]

    def configs(self) -> tuple[Any, Any, Any]:
        """(AceStepConfig, VaeConfig, Qwen3Config), each parsed strictly; errors name the file and field."""
        from engine.nn.ace_step.config import read_acestep, read_qwen3, read_vae

        return read_acestep(self.dit_config), read_vae(self.vae_config), read_qwen3(self.text_config)

    def problems(self) -> list[str]:
        """One sentence per file that is missing, broken or does not fit the official layout (from configs and
        safetensors headers only: nothing is loaded)."""
        from engine.backends.diffrhythm.files import file_problem

        from .layout import dit_shapes, header_shapes, mismatch, qwen3_shapes, vae_shapes

        out = []
        for p in self.all_files():
            if not p.is_file():
                out.append(f"{p} is missing")
                continue
            why = file_problem(p)
            if why:
                out.append(f"{p} is broken: {why}")
        if out:
            return out
        try:
            dit, vae, text = self.configs()
        except SongBridgeError as exc:
            return [str(exc)]
        for path, cfg, shapes in ((self.dit_weights, dit, dit_shapes), (self.vae_weights, vae, vae_shapes),
                                  (self.text_weights, text, qwen3_shapes)):
            try:
                found = header_shapes(path)
            except (OSError, ValueError) as exc:
                out.append(f"{path} is broken: {exc}")
                continue
            report = mismatch(found, shapes(cfg))
            if report:
                out.append(f"{path} does not fit {cfg.source}: {report}")
        if dit.text_hidden_dim != text.hidden_size:
            out.append(f"{self.dit_config}: text_hidden_dim {dit.text_hidden_dim} differs from the text encoder's "
                       f"hidden_size {text.hidden_size} ({self.text_config})")
        if dit.audio_acoustic_hidden_dim != vae.decoder_input_channels:
            out.append(f"{self.dit_config}: audio_acoustic_hidden_dim {dit.audio_acoustic_hidden_dim} differs from "
                       f"the VAE's decoder_input_channels {vae.decoder_input_channels} ({self.vae_config})")
        return out


def limits(files: AceStepFiles) -> list[str]:
    """What a complete folder cannot do (said in ``models status``): a VAE whose encoder's latent width is not the
    DiT's (the fixture set's tiny VAE) decodes but cannot encode a take made elsewhere or a guide to cover."""
    try:
        dit, vae, _text = files.configs()
    except SongBridgeError:
        return []
    if vae.latent_channels != dit.audio_acoustic_hidden_dim:
        return [f"its VAE encodes to {vae.latent_channels} channels, the DiT takes {dit.audio_acoustic_hidden_dim}: "
                "covers and edits of takes made by other backends are unavailable"]
    return []


def installed(models: Path) -> bool:
    """Whether any ACE-Step DiT folder was put in the models folder (complete or not)."""
    return any((Path(models) / d / "config.json").is_file() or (Path(models) / d / "model.safetensors").is_file()
               for d in VARIANTS.values())


def locate(models: Path, variant: str | None = None) -> AceStepFiles:
    """The files of ``variant`` (default: turbo when present, else base). Raises naming what is missing;
    the files themselves are checked by :meth:`AceStepFiles.problems`."""
    models = Path(models)
    if variant is not None and variant not in VARIANTS:
        raise AceStepFilesError(f"unknown ACE-Step variant {variant!r}: one of {', '.join(VARIANTS)}")
    order = [variant] if variant else list(VARIANTS)
    chosen = next((v for v in order if (models / VARIANTS[v]).is_dir()), None)
    if chosen is None:
        wanted = " or ".join(f"{models / VARIANTS[v]}/" for v in order[:2])
        raise AceStepFilesError(f"no ACE-Step model in {models}: expected {wanted}; {WHERE}")
    files = AceStepFiles(models, chosen, models / VARIANTS[chosen], models / VAE_FOLDER, models / TEXT_FOLDER)
    missing = [str(p) for p in (files.vae_dir, files.text_dir) if not p.is_dir()]
    if missing:
        raise AceStepFilesError(f"the ACE-Step model in {files.dit_dir} needs {' and '.join(missing)}; {WHERE}")
    return files


def digest(path: Path) -> str:
    """sha256 of a weights file, remembered per (path, size, mtime) like the other backends' weights."""
    from engine.style.files import weights_digest

    return weights_digest(path)


def weights_record(files: AceStepFiles) -> list[dict[str, str]]:
    """What a take's record says about the weights that made it: name, file, sha256, licence."""
    return [{"name": name, "file": str(path.relative_to(files.root)), "sha256": digest(path), "licence": lic}
            for name, path, lic in files.weights()]
