"""What refusals say.

A refused SAM / CLIP vision file: the message names the file, says why it was not loaded (empty,
corrupt or truncated, not a plain tensor checkpoint, not a SAM / CLIP vision model) and what to do
(download the official file again into models/sams or models/clip_vision). It never carries
torch's text: for a booby-trapped pickle that text reads as advice to switch the safe loader off
("…you have two options…", "weights_only=False"), sometimes with terminal escape codes.

The border-colour cut-out that finds no object says so, and offers the other cut-outs."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fillblank_lab import clip_encoder as C
from fillblank_core import segment as S

FORBIDDEN_WORDS = ("weights_only", "two options", "trusted source", "trust the source")

# torch 2.6-2.9's wording of the same refusal, with its bold/normal escape codes (2.14 words it
# differently); a loader must not pass it on whatever the torch version.
OLD_TORCH_TEXT = ("Weights only load failed. This file can still be loaded, to do so you have two "
                  "options, \x1b[1mdo those steps only if you trust the source of the checkpoint"
                  "\x1b[0m. \n\t(1) Re-running `torch.load` with `weights_only` set to `False` will "
                  "likely succeed, but it can result in arbitrary code execution.\n\t(2) ...")


def _booby_trap(marker: str) -> int:
    """What the payload calls when unpickled without weights_only: leaves a marker file."""
    Path(marker).write_text("the payload ran")
    return 0


class Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (_booby_trap, (self.marker,))


def _trapped_state_dict(marker: Path) -> dict:
    """Looks like a SAM checkpoint at first sight: real tensors plus one pickled payload."""
    return {"image_encoder.pos_embed": torch.zeros(1, 4, 4, 8),
            "image_encoder.patch_embed.proj.weight": torch.zeros(8, 3, 2, 2),
            "payload": Payload(marker)}


def _write_trapped(path: Path, legacy: bool) -> Path:
    """A pickle checkpoint whose payload leaves ``path``.ran when loaded unsafely."""
    marker = path.with_name(path.name + ".ran")
    torch.save(_trapped_state_dict(marker), path, _use_new_zipfile_serialization=not legacy)
    return marker


def _payload_is_live(tmp_path: Path, legacy: bool) -> bool:
    """Control: the same kind of file, loaded unsafely (weights_only=False, never done by
    fillblank), really does run the payload, so a test that sees no marker means something."""
    control = tmp_path / f"control_{'legacy' if legacy else 'zip'}.pth"
    marker = _write_trapped(control, legacy)
    torch.load(control, map_location="cpu", weights_only=False)
    return marker.exists()


def _assert_clean(msg: str, name: str, folder: str):
    low = msg.lower()
    for word in FORBIDDEN_WORDS:
        assert word not in low, f"{word!r} in: {msg}"
    assert "\x1b" not in msg, f"escape code in: {msg!r}"
    assert msg.isprintable(), f"control characters in: {msg!r}"
    assert name in msg, f"the message should name the file {name!r}: {msg}"
    assert folder in msg, f"the message should name the folder {folder!r}: {msg}"
    assert "download" in low and "again" in low, f"the message should say what to do: {msg}"


def _sam_message(path) -> str:
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(path)
    _assert_clean(str(e.value), Path(path).name, "models/sams")
    return str(e.value)


def _clip_message(path, loader=C.ClipImageEncoder.from_comfy_safetensors) -> str:
    with pytest.raises(C.ClipLoadError) as e:
        loader(path)
    _assert_clean(str(e.value), Path(path).name, "models/clip_vision")
    return str(e.value)


def _random_bytes(path: Path, n: int = 4096) -> Path:
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8)))
    return path


# --- SAM --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_sam_pickle_payload_is_refused_without_running_it_or_torchs_advice(tmp_path, legacy):
    path = tmp_path / f"sam_vit_b_01ec64_{'legacy' if legacy else 'zip'}.pth"
    marker = _write_trapped(path, legacy)
    msg = _sam_message(path)
    assert not marker.exists(), "loading the checkpoint ran its pickled payload"
    assert _payload_is_live(tmp_path, legacy), "the control payload did not run: the test proves nothing"
    assert "not a plain tensor checkpoint" in msg
    assert f"{__name__}._booby_trap" in msg, "the message names what the pickle refers to"


def test_sam_pickle_refusal_never_passes_on_torchs_text_of_any_version(tmp_path, monkeypatch):
    path = tmp_path / "trapped.pth"
    marker = _write_trapped(path, legacy=False)

    def old_torch_load(*args, **kwargs):
        assert kwargs.get("weights_only") is True, "the loader must ask for weights_only=True"
        raise pickle.UnpicklingError(OLD_TORCH_TEXT)
    monkeypatch.setattr(torch, "load", old_torch_load)
    msg = _sam_message(path)
    assert "not a plain tensor checkpoint" in msg and not marker.exists()


def test_sam_empty_random_and_truncated_files(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert "the file is empty" in _sam_message(empty)
    empty_st = tmp_path / "empty.safetensors"
    empty_st.write_bytes(b"")
    assert "the file is empty" in _sam_message(empty_st)

    for path in (_random_bytes(tmp_path / "random.pth"), _random_bytes(tmp_path / "random.safetensors")):
        assert "corrupt or truncated" in _sam_message(path)

    good = {"image_encoder.pos_embed": torch.randn(1, 8, 8, 16), "x": torch.randn(64, 64)}
    for legacy in (False, True):
        full = tmp_path / "full.pth"
        torch.save(good, full, _use_new_zipfile_serialization=not legacy)
        cut = tmp_path / f"truncated_{'legacy' if legacy else 'zip'}.pth"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        assert "corrupt or truncated" in _sam_message(cut)
    import safetensors.torch
    full = tmp_path / "full.safetensors"
    safetensors.torch.save_file(good, str(full))
    cut = tmp_path / "truncated.safetensors"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "corrupt or truncated" in _sam_message(cut)


def test_sam_readable_tensor_files_that_are_not_sam(tmp_path):
    import safetensors.torch
    st = tmp_path / "model.safetensors"
    safetensors.torch.save_file({"encoder.weight": torch.zeros(4, 4)}, str(st))
    assert "not a SAM checkpoint" in _sam_message(st)
    pth = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4)}, pth)
    assert "not a SAM checkpoint" in _sam_message(pth)
    numbers = tmp_path / "numbers.pth"
    torch.save({"epoch": 3, "lr": 0.1}, numbers)  # loads with weights_only, but no tensors
    assert "not a SAM checkpoint" in _sam_message(numbers)


def test_sam_missing_file(tmp_path):
    msg = _sam_message(tmp_path / "sam_vit_h_4b8939.pth")
    assert "does not exist" in msg


def test_sam_mismatch_is_worded_without_torchs_text(tmp_path):
    from test_core_segment import make_tiny_sam
    sd = dict(make_tiny_sam(0).state_dict())
    sd.pop("mask_decoder.iou_token.weight")
    sd["extra.weight"] = torch.zeros(2)
    path = tmp_path / "incomplete.pth"
    torch.save(sd, path)
    msg = _sam_message(path)
    assert "missing mask_decoder.iou_token.weight" in msg and "unexpected extra.weight" in msg
    assert "Error(s) in loading state_dict" not in msg


def test_good_files_are_not_blamed(tmp_path):
    """check_readable (used to find the culprit in a transformers folder) passes healthy files."""
    import safetensors.torch
    from fillblank_core.checkpoints import check_readable
    sd = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    for legacy in (False, True):
        path = tmp_path / f"good_{legacy}.pth"
        torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
        assert check_readable(path) is None
    safetensors.torch.save_file(sd, str(tmp_path / "good.safetensors"))
    assert check_readable(tmp_path / "good.safetensors") is None


def test_names_from_the_file_are_made_printable(tmp_path):
    from test_core_segment import make_tiny_sam
    sd = dict(make_tiny_sam(0).state_dict())
    sd["\x1b[31mred\x1b[0m.weight"] = torch.zeros(2)  # tensor names are the file's text
    path = tmp_path / "odd_names.pth"
    torch.save(sd, path)
    msg = _sam_message(path)  # _assert_clean: printable, no escape codes
    assert "unexpected ?[31mred?[0m.weight" in msg


# --- CLIP vision ------------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_clip_pickle_payload_is_refused_without_running_it_or_torchs_advice(tmp_path, legacy):
    path = tmp_path / f"clip_vision_h_{'legacy' if legacy else 'zip'}.bin"
    marker = _write_trapped(path, legacy)
    msg = _clip_message(path)
    assert not marker.exists(), "loading the model ran its pickled payload"
    assert _payload_is_live(tmp_path, legacy)
    assert "not a plain tensor checkpoint" in msg


def test_clip_empty_random_and_not_clip_files(tmp_path):
    import safetensors.torch
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert "the file is empty" in _clip_message(empty)
    for path in (_random_bytes(tmp_path / "random.safetensors"), _random_bytes(tmp_path / "random.bin")):
        assert "corrupt or truncated" in _clip_message(path)
    other = tmp_path / "sam.safetensors"
    safetensors.torch.save_file({"image_encoder.pos_embed": torch.zeros(1, 4, 4, 8)}, str(other))
    assert "not a CLIP vision model" in _clip_message(other)


def _tiny_clip_folder(folder: Path) -> Path:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=64, intermediate_size=128, projection_dim=16,
                           num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8)
    model = CLIPVisionModelWithProjection(cfg)
    folder.mkdir()
    model.config.save_pretrained(folder)
    return folder, model.state_dict()


def test_clip_folder_with_a_trapped_weights_file(tmp_path):
    folder, sd = _tiny_clip_folder(tmp_path / "tiny-clip")
    sd = dict(sd)
    marker = tmp_path / "folder_payload.ran"
    sd["payload"] = Payload(marker)
    torch.save(sd, folder / "pytorch_model.bin")
    msg = _clip_message(folder, C.ClipImageEncoder.from_path)
    assert not marker.exists()
    assert "pytorch_model.bin" in msg and "not a plain tensor checkpoint" in msg

    (folder / "pytorch_model.bin").write_bytes(b"")
    assert "pytorch_model.bin" in (msg := _clip_message(folder, C.ClipImageEncoder.from_path))
    assert "the file is empty" in msg


def test_clip_mismatch_is_worded_without_torchs_text(tmp_path):
    import safetensors.torch
    _, sd = _tiny_clip_folder(tmp_path / "f")
    sd = {k: v.contiguous() for k, v in sd.items()}
    sd.pop("vision_model.post_layernorm.weight")
    path = tmp_path / "incomplete.safetensors"
    safetensors.torch.save_file(sd, str(path))
    msg = _clip_message(path)
    assert "missing vision_model.post_layernorm.weight" in msg
    assert "Error(s) in loading state_dict" not in msg


# --- the border-colour cut-out ----------------------------------------------------------------------

def test_border_color_cutout_that_finds_nothing_says_so_and_offers_other_cutouts():
    flat = torch.full((48, 48, 3), 0.8)
    with pytest.raises(ValueError) as e:
        S.border_color_cutout(flat)
    msg = str(e.value)
    assert "could not separate the object from the background by its border colour" in msg
    for alternative in ("mask", "alpha", "SAM"):
        assert alternative in msg
    assert "check the" not in msg.lower(), "no advice to check inputs the cut-out did not use"


@pytest.mark.host
def test_border_color_message_reaches_the_target_encoder_node(pack, tiny):
    enc = pack.nodes.NODES_BY_ID["FillBlankTargetEncoder"]
    flat = torch.full((1, 32, 32, 3), 0.8)
    with pytest.raises(ValueError, match="by its border colour"):
        enc.execute(target=flat, scene=torch.rand(1, 64, 64, 3), vae=tiny.tiny_vae(), x=0.5, y=0.5,
                   scale=0.5, flip=False, cutout="border color")


@pytest.mark.host
def test_sam_loader_node_passes_the_message_on(pack, tmp_path):
    import folder_paths
    folder = tmp_path / "sams"
    folder.mkdir()
    _write_trapped(folder / "trapped_sam.pth", legacy=False)
    paths, exts = folder_paths.folder_names_and_paths["sams"]
    folder_paths.folder_names_and_paths["sams"] = (list(paths) + [str(folder)], exts)
    try:
        with pytest.raises(ValueError) as e:
            pack.nodes.NODES_BY_ID["FillBlankSAMLoader"].execute("trapped_sam.pth")
    finally:
        folder_paths.folder_names_and_paths["sams"] = (paths, exts)
    _assert_clean(str(e.value), "trapped_sam.pth", "models/sams")
    assert not (folder / "trapped_sam.pth.ran").exists()
