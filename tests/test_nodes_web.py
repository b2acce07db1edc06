"""nodes/web.py: the cut-out the placement editor shows is the cut-out the run uses.

The preview route reads the image as LoadImage does and applies the core's rule; here its alpha is
compared with what the Target Encoder pastes for LoadImage's own IMAGE / MASK outputs of the same
file (the silhouette it outputs, placed at scale 1 on a scene of the target's size)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.host


@pytest.fixture()
def input_dir(comfy_host, tmp_path):
    import folder_paths
    before = folder_paths.get_input_directory()
    folder_paths.set_input_directory(str(tmp_path))
    yield tmp_path
    folder_paths.set_input_directory(before)


def _png_alpha(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"))[..., 3].astype(np.float32) / 255.0


def _transparent_png(path, stored=(0, 0, 0)):
    from skimage import data
    logo = data.logo().copy()
    logo[..., 3] = np.where(logo[..., :3].min(-1) > 235, 0, 255)
    logo[logo[..., 3] == 0, :3] = stored
    Image.fromarray(logo).resize((120, 120), Image.NEAREST).save(path)


class _Vae:
    def encode(self, pixels):
        return torch.zeros(pixels.shape[0], 4, pixels.shape[1] // 8, pixels.shape[2] // 8)


@pytest.mark.parametrize("cutout,mask", [("auto", False), ("auto", True), ("whole image", False),
                                         ("border color", False)])
def test_preview_is_the_cutout_the_target_encoder_uses(pack, input_dir, cutout, mask):
    import nodes as comfy_nodes
    _transparent_png(input_dir / "t.png")
    image, loaded_mask = comfy_nodes.LoadImage().load_image("t.png")
    preview = pack.nodes.web.cutout_preview("t.png", cutout, mask, sam=False)
    assert "error" not in preview, preview
    enc = pack.nodes.NODES_BY_ID["FillBlankTargetEncoder"]
    out = enc.execute(target=image, scene=torch.rand(1, 120, 120, 3), vae=_Vae(), x=0.5, y=0.5, scale=1.0, flip=False,
                      cutout=cutout, target_mask=loaded_mask if mask else None)
    silhouette = out.result[2][0].numpy()
    np.testing.assert_allclose(_png_alpha(preview["png"]), silhouette, atol=1 / 255)
    want = {("auto", False): "keyed out (auto)", ("auto", True): "target_mask", ("whole image", False): "whole image",
            ("border color", False): "border colour"}[(cutout, mask)]
    assert want in preview["label"]


def test_preview_reads_only_comfyuis_folders(pack, input_dir):
    with pytest.raises(FileNotFoundError):
        pack.nodes.web.cutout_preview("../../../etc/passwd", "auto", False, False)
    assert "error" in pack.nodes.web.cutout_preview("t.png", "no such choice", False, False)


def test_sam_is_shown_as_its_box_until_a_run(pack, input_dir):
    """With a SAM model connected, auto means SAM; the editor shows the box SAM is prompted with
    (segment.default_box): running the model belongs to the run."""
    from fillblank_core import segment as S
    _transparent_png(input_dir / "t.png")
    preview = pack.nodes.web.cutout_preview("t.png", "auto", False, sam=True)
    assert preview["rule"] == "sam" and "box" in preview["label"]
    x0, y0, x1, y1 = (int(round(v)) for v in S.default_box(120, 120))
    want = np.zeros((120, 120), np.float32)
    want[y0:y1, x0:x1] = 1.0
    np.testing.assert_array_equal(_png_alpha(preview["png"]), want)
