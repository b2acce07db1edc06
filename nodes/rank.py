"""Fill-in Rank: a batch of results sorted best first (CLIP vision is optional)."""

from __future__ import annotations

from comfy_api.latest import io

from ..fillblank_core import masks as M
from .common import Target, batch_of, mask_input, rgb, schema


class FillBlankRank(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankRank", "results",
            "Sorts a batch of results best first by likeness to the target inside the hole (CLIP when connected) "
            "and by how invisible the hole's border is.",
            inputs=[
                io.Image.Input("images", tooltip="A batch of results (e.g. Fill-in Composite of a batch)."),
                Target.Input("target", tooltip="From Fill-in Target Encoder."),
                io.Mask.Input("hole", optional=True, tooltip="The hole used for sampling (default: the target's "
                              "silhouette)."),
                io.ClipVision.Input("clip_vision", optional=True, tooltip="Optional CLIP vision model: similarity by "
                                    "CLIP cosine instead of colour and structure."),
            ],
            outputs=[
                io.Image.Output(display_name="best", tooltip="The best result."),
                io.Image.Output(display_name="sorted", tooltip="All results, best first."),
                io.String.Output(display_name="scores", tooltip="One line of scores per result."),
            ])

    @classmethod
    def execute(cls, images, target, hole=None, clip_vision=None) -> io.NodeOutput:
        from ..fillblank_core.clip import comfy_embed_fn
        from ..fillblank_core.rank import format_scores, rank_batch, sort_batch
        rgb(images, "images")
        M.broadcast_batch(result="images", images=batch_of(images), target=batch_of(target), hole=batch_of(hole))
        if tuple(images.shape[1:3]) != target.scene_hw:
            raise ValueError(f"images are {images.shape[2]}x{images.shape[1]} px but the target was placed on a "
                             f"{target.scene_hw[1]}x{target.scene_hw[0]} scene; rank the composited results")
        holes = mask_input(hole, "hole", target.scene_hw)[:, 0] if hole is not None else target.mask
        if any(M.mask_box(h) is None for h in holes):
            raise ValueError("hole is empty: connect the hole used for sampling")
        embed = comfy_embed_fn(clip_vision) if clip_vision is not None else None
        ranked = rank_batch(images, target.image, holes, target.mask, embed_fn=embed)
        ordered = sort_batch(images, ranked)
        return io.NodeOutput(ordered[:1], ordered, format_scores(ranked))
