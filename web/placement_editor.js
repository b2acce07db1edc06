// FillBlankTargetEncoder: a drag-to-place editor in a canvas widget under the node's widgets (a
// DOM widget: the canvas renderer and the Vue node renderer both show it). Once the scene and
// target images are known (the previews of the LoadImage nodes connected to `scene` and `target`,
// or, for a generated image, a Preview Image fed from the same output after a run), it shows the
// scene with the target where x / y / scale / flip put it. Drag the target (or click the scene) to
// move it; drag the corner handle, or turn the wheel with Shift held, to resize it. The wheel
// alone zooms or pans the graph as everywhere else. Only the node's own x / y / scale widgets
// change, so the placement is saved with the workflow and sent to the server like any widget value.
import { app } from "../../scripts/app.js";
import { fitRect, placementBox, referenceScale, shownHeight, widgetNumber } from "./placement_math.js";
import { addCanvasWidget, chain, fitText, forwardWheelToCanvas, inputSource, linked, report, roundRect, showOnly,
    widget, widgetValue, wrapText } from "./fillblank_ui.js";

const NODE = "FillBlankTargetEncoder";
const INSERT = "FillBlankInsert"; // the same editor, shown while x / y / scale place the target
const PLACEMENT = ["x", "y", "scale", "flip"];
const ROUTE = "/fillblank/cutout_preview"; // nodes/web.py
export const EDITOR = "placement"; // the DOM widget's name
const MIN_H = 210; // px of the editor
const MIN_W = 320; // px, width of a new node
const HANDLE = 10; // corner handle size, px
const WHEEL_STEP = 1.05; // one wheel notch with Shift: 5 % larger or smaller
export const MODIFIER = "Shift";
const BG = "#161616";
const TEXT = "#a0a0a0";
const BOX = "#40c8ff";
const BAD = "#ff6060"; // the box where the ground-plane rule has no answer (the run fails the same way)
const HORIZON = "#ffd040"; // the horizon line
const GRAB = 5; // px either side of the horizon line that grab it
const CHAINED = "#b0b0b0"; // outline of the targets placed upstream (add_to)
const FRONT_MAX_PX = 2048; // the in_front cut's longest side (it is drawn at the editor's size anyway)
const TOOLTIP = "Drag the target to move it (a click on the scene puts it there); drag its corner handle or turn "
    + "the wheel with Shift held to resize it. The wheel alone zooms the graph as usual. Sets x, y and scale.";

/** The picture a node shows (LoadImage's preview, a Preview/Save Image after a run), or null. */
function shownImage(n) {
    const imgs = n?.imgs;
    if (!imgs?.length) return null;
    const img = imgs[n.imageIndex ?? 0] ?? imgs[0];
    return img && img.complete !== false && img.naturalWidth > 0 && img.naturalHeight > 0 ? img : null;
}

/**
 * The image arriving at `inputName`: shown by the node that feeds it (through Reroute nodes),
 * else, for a generated image, by a node fed from the same output (a Preview Image after a run).
 */
function upstreamImage(node, inputName) {
    let src = inputSource(node, inputName);
    for (let hop = 0; src && hop < 16; hop++) {
        const own = shownImage(src.node);
        if (own) return own;
        if (src.node.type === "Reroute" && src.node.inputs?.length === 1) {
            src = inputSource(src.node, src.node.inputs[0].name);
            continue;
        }
        for (const dst of src.node.getOutputNodes?.(src.slot) ?? []) {
            const img = dst !== node ? shownImage(dst) : null;
            if (img) return img;
        }
        return null;
    }
    return null;
}

// --- the cut-out the run will use -------------------------------------------------------------------

const typeOf = (n) => n?.comfyClass ?? n?.type;

/**
 * What the editor can tell about the cut-out: {query} for a target read from a LoadImage (the server
 * cuts it out by the core's rule, nodes/web.py), or {label} where only the run can tell.
 */
function cutoutSource(node) {
    const src = inputSource(node, "target");
    if (!src) return null;
    if (linked(node, "object_mask")) return { label: "object_mask (applied when the workflow runs)" };
    const own = typeOf(src.node) === "LoadImage" && src.slot === 0 ? widgetValue(src.node, "image", null) : null;
    const m = inputSource(node, "target_mask");
    const mask = !!m && m.node === src.node && m.slot === 1;
    if (m && !mask) return { label: "target_mask (applied when the workflow runs)" };
    if (!own) return { label: `${widgetValue(node, "cutout", "auto")}: known when the workflow runs` };
    // only a picture the LoadImage could show is asked for (a template opened without its files: no
    // request for a file that is not there)
    if (!shownImage(src.node)) return { label: "waiting for the target's picture" };
    const q = new URLSearchParams({ image: String(own), cutout: String(widgetValue(node, "cutout", "auto")),
        mask: mask ? "1" : "0", sam: linked(node, "sam") ? "1" : "0" });
    return { query: q.toString() };
}

/** The cut-out for the current wiring: {key, label, img?, w, h} once the server answered, asking it when needed. */
function cutout(node) {
    const want = cutoutSource(node);
    if (!want) return null;
    if (!want.query) return { key: want.label, label: want.label };
    const have = node.__fillblankCutout;
    if (have?.key === want.query) return have;
    const entry = { key: want.query, label: "…", pending: true };
    node.__fillblankCutout = entry;
    app.api.fetchApi(`${ROUTE}?${want.query}`).then((r) => r.json()).then((body) => {
        if (node.__fillblankCutout !== entry) return;
        entry.label = body.label ?? body.error ?? "unknown";
        if (body.error) {
            entry.error = body.error;
            entry.pending = false;
            node.__fillblankPlacement?.redraw();
            return;
        }
        const img = new Image();
        img.onload = () => {
            entry.img = img;
            entry.w = body.width;
            entry.h = body.height;
            entry.pending = false;
            node.__fillblankPlacement?.redraw();
        };
        img.src = body.png;
    }).catch((err) => {
        entry.label = "preview unavailable";
        entry.pending = false;
        report("cut-out preview", err);
    });
    return entry;
}

// --- what stands in front of the target (in_front) ---------------------------------------------------

/**
 * The in_front MASK as the editor can show it: {img, label} when it is LoadImage's MASK (a picture
 * whose painted, transparent part is the mask: LoadImage's MASK is 1 − alpha), {label} where only
 * the run can tell (a mask from another node), null when it is not connected.
 */
function inFront(node) {
    const src = sourceThroughReroutes(node, "in_front");
    if (!src) return null;
    if (typeOf(src.node) === "LoadImage" && src.slot === 1) {
        const img = shownImage(src.node);
        return img ? { img, label: "behind in_front (its painted part)" } : { label: "in_front: waiting for its picture" };
    }
    return { label: "in_front (applied when the workflow runs)" };
}

let scratch = null; // one canvas for cutting a target by its in_front (each draw is synchronous)

/**
 * A target picture drawn in rect r, cut by its own in_front (LoadImage's MASK is 1 − alpha: its alpha
 * keeps the target), the size of the scene's fit. What lies under the target (the scene, the targets
 * placed before it) then shows through where in_front is 1, as in the run: a target's in_front is not
 * kept where an earlier target is visible (target.kept).
 */
function drawCut(ctx, img, r, flip, mask, fit) {
    const k = Math.min(1, FRONT_MAX_PX / Math.max(mask.naturalWidth || 1, mask.naturalHeight || 1));
    const W = Math.max(1, Math.round((mask.naturalWidth || fit.w) * k));
    const H = Math.max(1, Math.round((mask.naturalHeight || fit.h) * k));
    scratch ??= document.createElement("canvas");
    if (scratch.width !== W || scratch.height !== H) {
        scratch.width = W;
        scratch.height = H;
    }
    const g = scratch.getContext("2d");
    g.globalCompositeOperation = "source-over";
    g.clearRect(0, 0, W, H);
    const sx = W / fit.w, sy = H / fit.h;
    drawPicture(g, img, { x: (r.x - fit.x) * sx, y: (r.y - fit.y) * sy, w: r.w * sx, h: r.h * sy }, flip);
    g.globalCompositeOperation = "destination-in"; // the target only where the mask picture is opaque
    g.drawImage(mask, 0, 0, W, H);
    g.globalCompositeOperation = "source-over";
    ctx.drawImage(scratch, fit.x, fit.y, fit.w, fit.h);
}

function placementOf(node) {
    const p = {
        x: Number(widgetValue(node, "x", 0.5)),
        y: Number(widgetValue(node, "y", 0.5)),
        scale: Number(widgetValue(node, "scale", 0.4)),
        flip: !!widgetValue(node, "flip", false),
        horizon: Number(widgetValue(node, "horizon", 0)) || 0,
    };
    // with a horizon, scale is the height at the bottom edge and the target shows at its ground-plane
    // height for y (the core's ground_height, nodes/common.py placed_height)
    const shown = shownHeight(p.scale, p.y, p.horizon);
    p.height = shown.height;
    p.error = shown.error;
    return p;
}

// --- targets placed upstream (add_to) ---------------------------------------------------------------

/** The node feeding `inputName`, through Reroute nodes, or null. */
function sourceThroughReroutes(node, inputName) {
    let src = inputSource(node, inputName);
    for (let hop = 0; src && hop < 16 && src.node.type === "Reroute" && src.node.inputs?.length === 1; hop++) {
        src = inputSource(src.node, src.node.inputs[0].name);
    }
    return src;
}

/**
 * The Target Encoders up the add_to chain, the first first: what the graph knows of the targets this
 * node's target is drawn over (their own widgets and target pictures; no run needed).
 */
function chainedEncoders(node) {
    const out = [];
    const seen = new Set([node]);
    let src = sourceThroughReroutes(node, "add_to");
    while (src && typeOf(src.node) === NODE && !seen.has(src.node) && out.length < 32) {
        seen.add(src.node);
        out.unshift(src.node);
        src = sourceThroughReroutes(src.node, "add_to");
    }
    return out;
}

/** An upstream target's picture (its cut-out once the server answered) and size. */
function targetPicture(node) {
    const cut = cutout(node);
    if (cut?.img) return { img: cut.img, w: cut.w, h: cut.h, cut };
    const img = upstreamImage(node, "target");
    return img ? { img, w: img.naturalWidth, h: img.naturalHeight, cut } : { img: null, w: 1, h: 1, cut };
}

/** Set a number widget the way a user edit does (clamped to its range, its callback called). */
function setNumber(node, name, value) {
    const w = widget(node, name);
    if (!w) return;
    const o = w.options ?? {};
    const v = widgetNumber(value, o.min ?? -Infinity, o.max ?? Infinity, 3);
    if (w.value === v) return;
    w.value = v;
    try {
        w.callback?.call(w, v, app.canvas, node);
    } catch (err) {
        report(`widget ${name}`, err);
    }
}

/** The editor's layout in the canvas's CSS px, from the node's widgets and the images. */
function layout(node, w, h) {
    const area = { x: 0, y: 0, w, h };
    const scene = upstreamImage(node, "scene");
    const cut = cutout(node);
    // what the run pastes: the server's cut-out once it answered, else the target's picture
    const target = cut?.img ?? upstreamImage(node, "target");
    if (!scene) return { area, scene: null, target, cut };
    const W = scene.naturalWidth, H = scene.naturalHeight;
    const fit = fitRect(W, H, 4, 4, w - 8, h - 36);
    const tw = cut?.img ? cut.w : target ? target.naturalWidth : 1;
    const th = cut?.img ? cut.h : target ? target.naturalHeight : 1;
    const p = placementOf(node);
    const box = placementBox(W, H, tw, th, p.x, p.y, p.height);
    const rectOf = (b) => ({ x: fit.x + b.left * fit.k, y: fit.y + b.top * fit.k, w: b.width * fit.k, h: b.height * fit.k });
    const rect = rectOf(box);
    // the targets placed upstream, each where its own widgets put it on this scene
    const chained = chainedEncoders(node).map((up) => {
        const q = placementOf(up);
        const pic = targetPicture(up);
        const b = placementBox(W, H, pic.w, pic.h, q.x, q.y, q.height);
        return { id: up.id, p: q, img: pic.img, box: b, rect: rectOf(b), front: inFront(up) };
    });
    const horizon = p.horizon > 0 ? { y: fit.y + p.horizon * fit.h, x0: fit.x, x1: fit.x + fit.w } : null;
    return { area, scene, target, cut, W, H, fit, p, box, rect, chained, horizon, front: inFront(node),
        handle: { x: rect.x + rect.w - HANDLE / 2, y: rect.y + rect.h - HANDLE / 2, w: HANDLE, h: HANDLE } };
}

function drawPicture(ctx, img, r, flip) {
    if (flip) {
        ctx.save();
        ctx.translate(r.x + r.w, r.y);
        ctx.scale(-1, 1);
        ctx.drawImage(img, 0, 0, r.w, r.h);
        ctx.restore();
    } else {
        ctx.drawImage(img, r.x, r.y, r.w, r.h);
    }
}

const inside = (pos, r) => r && pos[0] >= r.x && pos[0] <= r.x + r.w && pos[1] >= r.y && pos[1] <= r.y + r.h;

function drawEditor(node, ctx, w, h) {
    const L = layout(node, w, h);
    node.__fillblankEditor = L;
    node.__fillblankHorizon = (L.p ? L.p.horizon : Number(widgetValue(node, "horizon", 0))) || 0;
    const { area } = L;
    ctx.fillStyle = BG;
    roundRect(ctx, area.x, area.y, area.w, area.h, 6);
    ctx.fill();
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    if (!L.scene) {
        ctx.fillStyle = TEXT;
        ctx.textAlign = "left";
        wrapText(ctx, "Connect LoadImage nodes to scene and target (or run once with a Preview Image of a "
            + `generated scene) to place the target here by dragging; corner handle or ${MODIFIER}+wheel: size.`,
        area.x + 10, area.y + 16, area.w - 20, 14, Math.max(1, Math.floor((h - 16) / 14)));
        return;
    }
    const { fit, rect, p } = L;
    ctx.drawImage(L.scene, fit.x, fit.y, fit.w, fit.h);
    // the targets placed upstream (add_to), greyed and half transparent, then this one over them;
    // each clipped to the scene like place_target clips it
    for (const c of L.chained) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(fit.x, fit.y, fit.w, fit.h);
        ctx.clip();
        if (c.img) {
            ctx.globalAlpha = 0.55;
            ctx.filter = "grayscale(1)";
            if (c.front?.img) drawCut(ctx, c.img, c.rect, c.p.flip, c.front.img, fit); // cut by its own in_front
            else drawPicture(ctx, c.img, c.rect, c.p.flip);
            ctx.filter = "none";
            ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = CHAINED;
        ctx.lineWidth = 1;
        ctx.setLineDash([2, 3]);
        ctx.strokeRect(c.rect.x, c.rect.y, c.rect.w, c.rect.h);
        ctx.restore();
    }
    if (L.horizon) {
        // the horizon: a line across the scene, dragged up and down
        ctx.save();
        ctx.strokeStyle = HORIZON;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([8, 4]);
        ctx.beginPath();
        ctx.moveTo(L.horizon.x0, L.horizon.y);
        ctx.lineTo(L.horizon.x1, L.horizon.y);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = HORIZON;
        ctx.textAlign = "right";
        ctx.textBaseline = "bottom";
        ctx.font = "10px sans-serif";
        ctx.fillText("horizon", L.horizon.x1 - 4, L.horizon.y - 2);
        ctx.restore();
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(fit.x, fit.y, fit.w, fit.h);
    ctx.clip();
    // behind what stands in front of it (in_front): cut there, as the run cuts it
    if (L.target && L.front?.img) drawCut(ctx, L.target, rect, p.flip, L.front.img, fit);
    else if (L.target) drawPicture(ctx, L.target, rect, p.flip);
    ctx.restore();
    // outline and the scale handle
    ctx.strokeStyle = p.error ? BAD : BOX;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(rect.x, rect.y, rect.w, rect.h);
    ctx.setLineDash([]);
    ctx.fillStyle = BOX;
    ctx.fillRect(L.handle.x, L.handle.y, L.handle.w, L.handle.h);
    ctx.fillStyle = TEXT;
    ctx.textAlign = "left";
    const ty = area.y + area.h - 23;
    // which cut-out the picture shows: the one the run uses
    const behind = L.front ? ` · ${L.front.label}` : "";
    if (L.cut || L.front) {
        fitText(ctx, `cut-out: ${L.cut ? L.cut.label : "—"}${behind}`, area.x + 8, area.y + area.h - 9, area.w - 16);
    }
    if (!L.target) {
        fitText(ctx, "connect a LoadImage to target to see it here", area.x + 8, ty, area.w - 16);
        return;
    }
    if (p.error) {
        ctx.fillStyle = BAD;
        fitText(ctx, `${p.error}: move it down`, area.x + 8, ty, area.w - 16);
        return;
    }
    const size = p.horizon > 0 ? `height ${p.height.toFixed(3)} (scale ${p.scale.toFixed(3)} at the bottom)`
        : `scale ${p.scale.toFixed(3)}`;
    const msg = `x ${p.x.toFixed(3)}  y ${p.y.toFixed(3)}  ${size}${p.flip ? "  flipped" : ""}`;
    const hint = `${MODIFIER}+wheel: size`;
    const room = area.w - 16 - ctx.measureText(msg).width - 12;
    fitText(ctx, msg, area.x + 8, ty, area.w - 16);
    if (ctx.measureText(hint).width <= room) {
        ctx.textAlign = "right";
        ctx.fillText(hint, area.x + area.w - 8, ty);
    }
}

/** Everything the drawing depends on. */
function signature(node) {
    const img = (i) => (i ? `${i.src}:${i.naturalWidth}x${i.naturalHeight}` : "-");
    const p = placementOf(node);
    const cut = cutout(node);
    const up = chainedEncoders(node).map((n) => {
        const pic = targetPicture(n);
        const f = inFront(n);
        return [n.id, placementOf(n), pic.img ? img(pic.img) : "-", pic.cut ? [pic.cut.key, !!pic.cut.img] : null,
            f ? img(f.img) : null];
    });
    const front = inFront(node);
    return JSON.stringify([p, img(upstreamImage(node, "scene")), img(upstreamImage(node, "target")),
        cut ? [cut.key, cut.label, !!cut.img] : null, insertSync(node), up,
        front ? [front.label, img(front.img)] : null]);
}

// --- Fill-in Insert: placement widgets and the editor only where x / y / scale place the target ---

/** True when x / y / scale / flip (and horizon) are used: fit = x-y-scale, or no hole connected. */
function placesByXY(node) {
    return typeOf(node) !== INSERT || widgetValue(node, "fit", "into hole") === "x-y-scale" || !linked(node, "hole");
}

/** Insert: show the placement widgets and the editor only when they apply; "" elsewhere. */
function insertSync(node) {
    if (typeOf(node) !== INSERT) return "";
    const on = placesByXY(node);
    const ed = node.__fillblankPlacement;
    const placing = [...PLACEMENT, "horizon", EDITOR]; // horizon sizes the target only where x / y / scale place it
    showOnly(node, placing, new Set(on ? placing : []), !node.__fillblankLoading);
    if (ed) ed.element.style.display = on ? "" : "none";
    return on ? "xy" : "hole";
}

// --- dragging ---------------------------------------------------------------------------------
function startDrag(node, pos) {
    const L = node.__fillblankEditor;
    if (!L?.scene || !inside(pos, { x: L.fit.x, y: L.fit.y, w: L.fit.w, h: L.fit.h }) && !inside(pos, L.handle)) return false;
    const p = placementOf(node);
    const cx = L.rect.x + L.rect.w / 2, cy = L.rect.y + L.rect.h / 2;
    if (inside(pos, L.handle)) {
        if (linked(node, "scale")) return false;
        // the direction from the centre to the handle; the drag's length along it sets the size
        const d0 = Math.max(Math.hypot(pos[0] - cx, pos[1] - cy), 1);
        node.__fillblankDrag = { mode: "scale", start: [pos[0], pos[1]], ux: (pos[0] - cx) / d0, uy: (pos[1] - cy) / d0,
            fh: L.fit.h, scale0: p.scale, height0: p.height };
    } else if (onHorizon(L, pos)) {
        if (linked(node, "horizon")) return false;
        node.__fillblankDrag = { mode: "horizon", start: [pos[0], pos[1]], h0: p.horizon, fh: L.fit.h };
    } else {
        if (linked(node, "x") || linked(node, "y")) return false;
        let x0 = p.x, y0 = p.y;
        if (!inside(pos, L.rect)) {
            // a click on the scene outside the target puts its centre there
            x0 = (pos[0] - L.fit.x) / L.fit.w;
            y0 = (pos[1] - L.fit.y) / L.fit.h;
            setNumber(node, "x", x0);
            setNumber(node, "y", y0);
        }
        node.__fillblankDrag = { mode: "move", start: [pos[0], pos[1]], x0, y0, fw: L.fit.w, fh: L.fit.h };
    }
    return true;
}

function moveDrag(node, pos) {
    const d = node.__fillblankDrag;
    if (!d) return;
    if (d.mode === "scale") {
        // calm: the target's height changes by as many px as the pointer moved along the diagonal
        // (a ratio of distances from the centre made a 20 px drag of a small target 0.45 -> 0.70)
        const along = (pos[0] - d.start[0]) * d.ux + (pos[1] - d.start[1]) * d.uy;
        setHeight(node, d.height0 + along / d.fh, d.scale0 + along / d.fh);
    } else if (d.mode === "horizon") {
        // never 0 by dragging (0 turns the horizon off): its range's step (ranges.HORIZON) is the lowest
        setNumber(node, "horizon", Math.max(d.h0 + (pos[1] - d.start[1]) / d.fh, 0.005));
    } else {
        setNumber(node, "x", d.x0 + (pos[0] - d.start[0]) / d.fw);
        setNumber(node, "y", d.y0 + (pos[1] - d.start[1]) / d.fh);
    }
}

/** Near the horizon line (and not on the handle): a drag there moves the horizon. */
function onHorizon(L, pos) {
    return !!L.horizon && Math.abs(pos[1] - L.horizon.y) <= GRAB && pos[0] >= L.horizon.x0 && pos[0] <= L.horizon.x1;
}

/**
 * Resize to `height` (a fraction of the scene height, what the editor shows): with a horizon, scale
 * becomes the reference scale that shows that height at the target's y (the core's reference_scale);
 * without, `plain` (the same height).
 */
function setHeight(node, height, plain) {
    const p = placementOf(node);
    if (!(p.horizon > 0) || p.error) {
        setNumber(node, "scale", plain);
        return;
    }
    const h = Math.max(height, 0.001);
    try {
        setNumber(node, "scale", referenceScale(h, p.y, p.horizon));
    } catch (err) {
        // the base above the horizon: no ground-plane size for it; leave scale as it is
    }
}

/**
 * The horizon widget changed (typed, or dragged in the editor): turned on for a target already
 * placed, the target keeps the size it had (scale becomes its reference scale); turned off, it keeps
 * the ground-plane height it showed. Moving a horizon that is on keeps scale: the target stands on
 * the ground and its height follows the horizon.
 */
function horizonChanged(node) {
    const was = node.__fillblankHorizon ?? 0;
    const now = Number(widgetValue(node, "horizon", 0)) || 0;
    node.__fillblankHorizon = now;
    if ((was > 0) === (now > 0) || linked(node, "scale")) return;
    const scale = Number(widgetValue(node, "scale", 0.4));
    const y = Number(widgetValue(node, "y", 0.5));
    if (now > 0) {
        const base = y + scale / 2;
        if (now < base) setNumber(node, "scale", referenceScale(scale, y, now));
    } else {
        const shown = shownHeight(scale, y, was);
        if (!shown.error) setNumber(node, "scale", shown.height);
    }
}

function endDrag(node, pos) {
    if (!node.__fillblankDrag) return;
    if (pos) moveDrag(node, pos);
    node.__fillblankDrag = null;
    node.graph?.change?.();
}

function hover(node, pos) {
    const L = node.__fillblankEditor;
    if (!L?.scene) return "";
    if (inside(pos, L.handle)) return linked(node, "scale") ? "not-allowed" : "nwse-resize";
    if (onHorizon(L, pos)) return linked(node, "horizon") ? "not-allowed" : "ns-resize";
    if (!inside(pos, { x: L.fit.x, y: L.fit.y, w: L.fit.w, h: L.fit.h })) return "";
    if (linked(node, "x") || linked(node, "y")) return "not-allowed";
    return inside(pos, L.rect) ? "move" : "crosshair";
}

// --- the wheel --------------------------------------------------------------------------------

/** Shift+wheel over the scene of an editor: scale the target by one step per notch. */
function scaleByWheel(e) {
    if (!e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return false;
    const canvas = e.target?.closest?.(".fillblank-placement")?.querySelector("canvas");
    const ed = canvas?.__fillblankEditor;
    const node = ed?.node;
    const L = node?.__fillblankEditor;
    if (!node || !L?.scene || !L.target || linked(node, "scale")) return false;
    const pos = ed.local(e);
    if (!inside(pos, { x: L.fit.x, y: L.fit.y, w: L.fit.w, h: L.fit.h })) return false;
    const d = e.deltaY || e.deltaX || 0; // browsers may turn Shift+wheel into a horizontal scroll
    if (d) {
        const p = placementOf(node);
        const k = d < 0 ? WHEEL_STEP : 1 / WHEEL_STEP;
        setHeight(node, p.height * k, p.scale * k);
        node.graph?.change?.();
    }
    return true;
}

/**
 * Shift+wheel must reach us before the graph does: in the Vue node renderer the node layer takes
 * every wheel event in its capture phase and hands it to the graph canvas. So one capturing listener
 * on the window (added, nothing replaced) takes Shift+wheel over an editor; every other wheel event
 * goes on as usual.
 */
function onWindowWheel(e) {
    try {
        if (scaleByWheel(e)) {
            e.preventDefault();
            e.stopImmediatePropagation();
        }
    } catch (err) {
        report("wheel", err);
    }
}

app.registerExtension({
    name: "fillblank.placementEditor",
    setup() {
        if (globalThis.__fillblankWheel || typeof window === "undefined") return;
        globalThis.__fillblankWheel = true;
        window.addEventListener("wheel", onWindowWheel, { capture: true, passive: false });
    },
    nodeCreated(node) {
        if (typeOf(node) !== NODE && typeOf(node) !== INSERT) return;
        try {
            const ed = addCanvasWidget(node, {
                name: EDITOR,
                className: "fillblank-placement",
                minHeight: MIN_H,
                minWidth: MIN_W,
                tooltip: TOOLTIP,
                paint: (ctx, w, h) => drawEditor(node, ctx, w, h),
                sync: () => signature(node),
                pointer: {
                    down: (e, pos) => startDrag(node, pos),
                    move: (e, pos) => moveDrag(node, pos),
                    up: (e, pos) => endDrag(node, pos),
                    hover: (e, pos) => hover(node, pos),
                },
            });
            ed.canvas.__fillblankEditor = ed;
            // the plain wheel over the editor: the graph zooms or pans as it does over any node
            ed.canvas.addEventListener("wheel", forwardWheelToCanvas, { passive: false });
            node.__fillblankPlacement = ed;
            for (const w of node.widgets ?? []) {
                if (w.name === "horizon") chain(w, "callback", () => horizonChanged(node));
                if (w !== ed.widget) chain(w, "callback", () => ed.redraw());
            }
            chain(node, "onConnectionsChange", () => ed.check());
            if (typeOf(node) === INSERT) {
                // a saved workflow's links and values arrive after creation, through configure: sync
                // once they are in, without resizing the node (its size was saved with them)
                const configure = node.configure;
                node.configure = function () {
                    node.__fillblankLoading = true;
                    try {
                        return configure.apply(this, arguments);
                    } finally {
                        try {
                            insertSync(node);
                        } catch (err) {
                            report("insert configure", err);
                        }
                        node.__fillblankLoading = false;
                    }
                };
                insertSync(node);
            }
        } catch (err) {
            report("placement editor setup", err);
        }
    },
});
