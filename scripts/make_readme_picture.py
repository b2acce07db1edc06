"""The picture at the top of the README: docs/insert_demo.png.

Real photographs (scikit-image's ``coffee`` as the scene, its ``logo`` badge as the cut-out, its
``chelsea`` for a distractor), an exemplar model built from them (fillblank_lab/photo_world.py: the
exact posterior over the table under three lights with one of five objects at the place, each lit by
that scene and casting its shadow) and a fixed non-linear VAE; run through the REAL nodes in-process
on the ComfyUI host, as benchmarks/reliability.py does:

* fillblank: Fill-in Target Encoder → Fill-in Mask Refiner → Fill-in Sampler (every widget at its
  default at run time, schedule unconnected) → VAE Decode → Fill-in Composite;
* the hand recipe: the Target Encoder's paste → VAE Encode → Set Latent Noise Mask (the same hole)
  → KSampler at denoise 0.5 → VAE Decode → Fill-in Composite (ComfyUI's own nodes);

same seed, steps, sampler and scheduler (the first sampler and scheduler options, as a freshly
placed node has them). Also classifies each result against the model's data over ``--seeds``
seeds and prints the rates, so the picture's seed can be judged.

Run (the test host is the default):
    .venv/bin/python scripts/make_readme_picture.py [--seed 0] [--seeds 16] [--out docs/insert_demo.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fillblank_lab.photo_world import OBJECTS, PhotoWorld  # noqa: E402

DENOISE_BY_HAND = 0.5


def default_host() -> str:
    """COMFYUI_PATH, else the pinned test host (scripts/comfy_host.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import comfy_host
    host = comfy_host.default_host()
    if host is None:
        raise SystemExit("set COMFYUI_PATH to a ComfyUI checkout (bash scripts/test.sh installs the test host)")
    return str(host)


def drawn_hole(world: PhotoWorld) -> torch.Tensor:
    """What a user paints over the place in LoadImage's mask editor: a rounded box around the place,
    with room below and to the right where the shadow falls. [1, H, W], 1 = repaint."""
    H, W = world.scene.shape[1:3]
    x0, y0, x1, y1 = world.box
    s = max(x1 - x0, y1 - y0)
    X0, Y0, X1, Y1 = x0 - 0.10 * s, y0 - 0.10 * s, x1 + 0.22 * s, y1 + 0.22 * s
    yy, xx = torch.meshgrid(torch.arange(H).float() + 0.5, torch.arange(W).float() + 0.5, indexing="ij")
    r = 0.25 * s  # corner radius
    cx = (xx - xx.clamp(X0 + r, X1 - r)).abs()
    cy = (yy - yy.clamp(Y0 + r, Y1 - r)).abs()
    inside = (cx ** 2 + cy ** 2) <= r * r
    return inside.float()[None]


class Runner:
    """The two chains on one world, the real nodes in-process."""

    def __init__(self, world: PhotoWorld):
        import reliability as R
        os.environ["COMFYUI_PATH"] = default_host()
        self.R = R
        self.pack = R.load_host(os.environ["COMFYUI_PATH"])
        import comfy.samplers

        import nodes as comfy_nodes  # ComfyUI's own nodes.py (the host is first on sys.path)
        if not hasattr(comfy_nodes, "SetLatentNoiseMask"):
            raise SystemExit(f"'nodes' resolved to {comfy_nodes.__file__}, not ComfyUI's nodes.py")
        self.cn = comfy_nodes
        self.world = world
        self.vae = world.vae
        self.model = R.comfy_model(_ModelWorld(world))
        m = self.pack.nodes.NODES_BY_ID
        self.enc, self.ref = m["FillBlankTargetEncoder"], m["FillBlankMaskRefiner"]
        self.smp, self.comp = m["FillBlankSampler"], m["FillBlankComposite"]
        self.d = {k: R._defaults(m[k]) for k in ("FillBlankTargetEncoder", "FillBlankMaskRefiner",
                                                  "FillBlankSampler", "FillBlankComposite")}
        # a freshly placed sampler node shows the first option of each combo (KSampler's too)
        self.sampler_name = self.d["FillBlankSampler"].get("sampler_name") or comfy.samplers.KSampler.SAMPLERS[0]
        self.scheduler = self.d["FillBlankSampler"].get("scheduler") or comfy.samplers.KSampler.SCHEDULERS[0]
        img, mask = world.target
        enc = dict(self.d["FillBlankTargetEncoder"], **world.place)
        out = self.enc.execute(target=img, scene=world.scene, vae=self.vae, target_mask=mask, **enc)
        self.target, self.paste = out[0], out[1]
        self.drawn = drawn_hole(world)
        self.hole = self.ref.execute(hole=self.drawn, target=self.target, **self.d["FillBlankMaskRefiner"])[0]
        self.scene_latent = self.cn.VAEEncode().encode(self.vae, world.scene)[0]
        self.paste_latent = self.cn.VAEEncode().encode(self.vae, self.paste)[0]

    def composite(self, latent: dict) -> torch.Tensor:
        decoded = self.cn.VAEDecode().decode(self.vae, latent)[0]
        return self.comp.execute(scene=self.world.scene, image=decoded, mask=self.hole,
                                 **self.d["FillBlankComposite"])[0]

    def fillblank(self, seed: int) -> torch.Tensor:
        d = dict(self.d["FillBlankSampler"], seed=seed, sampler_name=self.sampler_name, scheduler=self.scheduler)
        cond = self.R.conditioning()
        latent = self.smp.execute(model=self.model, positive=cond, negative=cond, latent_image=self.scene_latent,
                                  target=self.target, hole=self.hole, **d)[0]
        return self.composite(latent)

    def by_hand(self, seed: int, denoise: float = DENOISE_BY_HAND) -> torch.Tensor:
        d = self.d["FillBlankSampler"]
        cond = self.R.conditioning()
        masked = self.cn.SetLatentNoiseMask().set_mask(self.paste_latent, self.hole)[0]
        latent = self.cn.KSampler().sample(self.model, seed, d["steps"], d["cfg"], self.sampler_name, self.scheduler,
                                           cond, cond, masked, denoise=denoise)[0]
        return self.composite(latent)


class _ModelWorld:
    """What reliability.comfy_model needs of a world: the denoiser and its noise space's name."""

    def __init__(self, world: PhotoWorld):
        from fillblank_core.spaces import NoiseSpace
        from fillblank_lab.denoisers import ExemplarDenoiser
        self.space_name = "eps"
        self.denoiser = ExemplarDenoiser(world.latents, NoiseSpace.eps())


# --- judging a result ---------------------------------------------------------------------------

def judge(world: PhotoWorld, runner: Runner, image: torch.Tensor) -> dict:
    """The nearest picture of the model's data inside the hole (object, light), and whether the
    object region is nearer that picture than the plain paste (it took the light)."""
    from fillblank_core.masks import latent_hole
    region = latent_hole(runner.hole, world.latents.shape[-2:])
    obj, light, var = world.classify(image, region)[0]
    hole = runner.hole[0] > 0
    ex = world.images[world.labels.index((obj, light, var))]
    d_ex = float(((image[0] - ex)[hole] ** 2).mean())
    d_paste = float(((image[0] - runner.paste[0])[hole] ** 2).mean())
    return dict(object=obj, light=light, d_data=d_ex, d_paste=d_paste,
                joint=obj == "badge" and light == "scene" and d_ex < d_paste)


# --- the picture --------------------------------------------------------------------------------

def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _to_pil(img: torch.Tensor):
    import numpy as np
    from PIL import Image
    a = (img.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(a)


def _checker(h: int, w: int, n: int = 12) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    c = (((yy // n) + (xx // n)) % 2).float()
    return (0.8 + 0.12 * c)[..., None].expand(h, w, 3)


def _outline(img: torch.Tensor, mask: torch.Tensor, colour=(1.0, 0.85, 0.1), width: int = 3) -> torch.Tensor:
    """img [H, W, 3] with the outline of mask [H, W] drawn (dashed)."""
    m = (mask > 0.5).float()[None, None]
    grown = F.max_pool2d(m, 2 * width + 1, 1, width)
    edge = (grown - m)[0, 0] > 0
    yy, xx = torch.meshgrid(torch.arange(img.shape[0]), torch.arange(img.shape[1]), indexing="ij")
    dash = (((yy + xx) // 10) % 2) == 0
    out = img.clone()
    out[edge & dash] = torch.tensor(colour)
    out[edge & ~dash] = torch.tensor((0.1, 0.1, 0.1))
    return out


def make_picture(world: PhotoWorld, runner: Runner, results: dict, out: Path, footer: str = "",
                 panel_w: int = 270) -> None:
    from PIL import Image, ImageDraw
    H, W = world.scene.shape[1:3]
    x0, y0, x1, y1 = world.box
    s = max(x1 - x0, y1 - y0)
    # the zoom: a square around the hole
    hb = torch.nonzero(runner.hole[0] > 0)
    cy, cx = (hb[:, 0].min() + hb[:, 0].max()) / 2, (hb[:, 1].min() + hb[:, 1].max()) / 2
    side = int(2.0 * s)
    zy0 = int(max(0, min(H - side, cy - side / 2)))
    zx0 = int(max(0, min(W - side, cx - side / 2)))
    zoom = lambda im: im[zy0:zy0 + side, zx0:zx0 + side]  # noqa: E731

    marked = _outline(world.scene[0], runner.drawn[0])
    # the cut-out as the user has it: on a checkerboard, the object in its own (neutral) light
    timg, tmask = world.target
    obj = (1 - tmask[0])[..., None]
    cut = timg[0] * obj + _checker(*timg.shape[1:3], n=max(8, timg.shape[1] // 16)) * (1 - obj)
    ph = round(panel_w * H / W)
    cut_full = torch.ones(H, W, 3) * 0.96
    ch = int(H * 0.9)
    small = F.interpolate(cut.movedim(-1, 0)[None], size=(ch, ch), mode="bilinear", antialias=True)[0].movedim(0, -1)
    cut_full[(H - ch) // 2:(H - ch) // 2 + ch, (W - ch) // 2:(W - ch) // 2 + ch] = small
    cut_zoom = F.interpolate(cut.movedim(-1, 0)[None], size=(s, s), mode="bilinear", antialias=True)[0].movedim(0, -1)
    cz = torch.ones(side, side, 3) * 0.96
    o = (side - s) // 2
    cz[o:o + s, o:o + s] = cut_zoom

    columns = [
        ("1  the scene", "hole drawn over the place", marked, zoom(marked)),
        ("2  the target cut-out", "in its own light, no shadow", cut_full, cz),
        ("3  plain paste", "", runner.paste[0], zoom(runner.paste[0])),
        ("4  paste + KSampler", f"Set Latent Noise Mask, denoise {DENOISE_BY_HAND}", results["hand"][0],
         zoom(results["hand"][0])),
        ("5  fillblank", "Fill-in Sampler, all defaults", results["fillblank"][0], zoom(results["fillblank"][0])),
    ]
    pad, head, foot = 6, 60, 32
    width = len(columns) * panel_w + (len(columns) + 1) * pad
    height = head + ph + pad + panel_w + pad + foot
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    f1, f3 = _font(22), _font(17)
    for i, (title, sub, full, zm) in enumerate(columns):
        x = pad + i * (panel_w + pad)
        draw.text((x + 2, 6), title, fill=(20, 20, 20), font=f1)
        fs = 17
        while fs > 11 and draw.textlength(sub, font=_font(fs)) > panel_w - 6:
            fs -= 1  # the subtitle fits its panel
        draw.text((x + 2, 33), sub, fill=(90, 90, 90), font=_font(fs))
        canvas.paste(_to_pil(full).resize((panel_w, ph), Image.LANCZOS), (x, head))
        canvas.paste(_to_pil(zm).resize((panel_w, panel_w), Image.LANCZOS), (x, head + ph + pad))
    draw.text((pad + 2, height - foot + 5), footer, fill=(90, 90, 90), font=f3)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="the seed shown (the nodes' default seed is 0)")
    ap.add_argument("--seeds", type=int, default=16, help="seeds for the printed rates (0: none)")
    ap.add_argument("--out", default=str(REPO / "docs" / "insert_demo.png"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    world = PhotoWorld()
    runner = Runner(world)
    print(f"world and host {time.time() - t0:.0f} s; scene light at the place (linear RGB) "
          + ", ".join(f"{v:.2f}" for v in world.light.tolist())
          + f"; sampler {runner.sampler_name}/{runner.scheduler}, {runner.d['FillBlankSampler']['steps']} steps; "
          + "Fill-in Sampler defaults " + str(runner.d["FillBlankSampler"]))
    results = {"fillblank": runner.fillblank(args.seed), "hand": runner.by_hand(args.seed)}
    d = runner.d["FillBlankSampler"]
    footer = (f"Model: an exemplar model built from these scikit-image photos, not a real checkpoint.  4, 5: seed "
              f"{args.seed}, {runner.sampler_name}/{runner.scheduler}, {d['steps']} steps.  Bottom: zoom on the hole.")
    make_picture(world, runner, results, Path(args.out), footer)
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)")
    for name, img in (("paste", runner.paste), ("hand", results["hand"]), ("fillblank", results["fillblank"])):
        j = judge(world, runner, img)
        print(f"seed {args.seed} {name:9}: nearest picture of the model's data: {j['object']} in {j['light']} light; "
              f"MSE in the hole to it {j['d_data']:.4f}, to the paste {j['d_paste']:.4f}; joint {j['joint']}")
    if args.seeds:
        rates = {}
        for name, fn in (("hand", runner.by_hand), ("fillblank", runner.fillblank)):
            js = [judge(world, runner, fn(s)) for s in range(args.seeds)]
            rates[name] = js
            objs = {o: sum(j["object"] == o for j in js) for o in OBJECTS}
            print(f"{name:9} over seeds 0..{args.seeds - 1}: joint {sum(j['joint'] for j in js)}/{args.seeds}; "
                  "objects " + ", ".join(f"{k} {v}" for k, v in objs.items() if v)
                  + "; lights " + ", ".join(f"{k} {sum(j['light'] == k for j in js)}"
                                            for k in ("scene", "cool", "dim")))
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
