// FillBlankTargetEncoder: a drag-to-place editor on the node. Once the scene and target images
// are known (the previews of the LoadImage nodes connected to `scene` and `target`, or, for a
// generated image, a Preview Image fed from the same output after a run), the node shows the scene with the target overlaid where x / y / scale /
// flip put it. Drag the target (or click the scene) to move it, drag the corner handle or turn
// the mouse wheel over it to scale it. Only the ordinary x / y / scale widgets change, so the
// placement is saved with the workflow and sent to the server like any widget value.
import { app } from "../../scripts/app.js";
import { fitRect, placementBox, widgetNumber } from "./placement_math.js";
import { contentTop, redrawWhenWidgetsChange, report, reserveArea, roundRect, widget, widgetValue, wrapText, fitText } from "./fillblank_ui.js";

const NODE = "FillBlankTargetEncoder";
const AREA_H = 230; // px reserved below the widgets
const MIN_W = 320;
const HANDLE = 10; // corner handle size, px
const BG = "#161616";
const TEXT = "#a0a0a0";
const BOX = "#40c8ff";

function getLink(graph, id) {
    if (id == null) return null;
    if (typeof graph.getLink === "function") return graph.getLink(id);
    return typeof graph.links?.get === "function" ? graph.links.get(id) : graph.links?.[id];
}

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
    const graph = node.graph;
    const input = node.inputs?.find((i) => i.name === inputName);
    if (!graph || !input) return null;
    let link = getLink(graph, input.link);
    for (let hop = 0; link && hop < 16; hop++) {
        const src = graph.getNodeById?.(link.origin_id);
        if (!src) return null;
        const own = shownImage(src);
        if (own) return own;
        if (src.type === "Reroute" && src.inputs?.length === 1) {
            link = getLink(graph, src.inputs[0].link);
            continue;
        }
        for (const id of src.outputs?.[link.origin_slot]?.links ?? []) {
            const dst = graph.getNodeById?.(getLink(graph, id)?.target_id);
            const img = dst && dst !== node ? shownImage(dst) : null;
            if (img) return img;
        }
        return null;
    }
    return null;
}

/** True when a widget's value comes through a link (converted to an input): not ours to drag. */
function linked(node, name) {
    return !!node.inputs?.some((i) => (i.widget?.name === name || i.name === name) && i.link != null);
}

function placementOf(node) {
    return {
        x: Number(widgetValue(node, "x", 0.5)),
        y: Number(widgetValue(node, "y", 0.5)),
        scale: Number(widgetValue(node, "scale", 0.4)),
        flip: !!widgetValue(node, "flip", false),
    };
}

/** Set a number widget the way a user edit does (clamped to its range, its callback called). */
function setNumber(node, name, value) {
    const w = widget(node, name);
    if (!w) return;
    const o = w.options ?? {};
    const v = widgetNumber(value, o.min ?? -Infinity, o.max ?? Infinity, 3);
    w.value = v;
    try {
        w.callback?.call(w, v, app.canvas, node);
    } catch (err) {
        report(`widget ${name}`, err);
    }
}

/** Compute the editor's layout (node-local px) from the node, its widgets and the images. */
function layout(node, top) {
    const x = 10, w = node.size[0] - 20, h = node.size[1] - top - 10;
    if (w < 60 || h < 40) return null;
    const area = { x, y: top, w, h };
    const scene = upstreamImage(node, "scene");
    const target = upstreamImage(node, "target");
    if (!scene) return { area, scene: null, target };
    const W = scene.naturalWidth, H = scene.naturalHeight;
    const fit = fitRect(W, H, x + 4, top + 4, w - 8, h - 22);
    const tw = target ? target.naturalWidth : 1, th = target ? target.naturalHeight : 1;
    const p = placementOf(node);
    const box = placementBox(W, H, tw, th, p.x, p.y, p.scale);
    const bx = fit.x + box.left * fit.k, by = fit.y + box.top * fit.k;
    const bw = box.width * fit.k, bh = box.height * fit.k;
    return { area, scene, target, W, H, fit, p, box, rect: { x: bx, y: by, w: bw, h: bh },
        handle: { x: bx + bw - HANDLE / 2, y: by + bh - HANDLE / 2, w: HANDLE, h: HANDLE } };
}

const inside = (pos, r) => r && pos[0] >= r.x && pos[0] <= r.x + r.w && pos[1] >= r.y && pos[1] <= r.y + r.h;

function drawEditor(node, ctx, L, lowQuality) {
    const { area } = L;
    ctx.save();
    ctx.fillStyle = BG;
    roundRect(ctx, area.x, area.y, area.w, area.h, 6);
    ctx.fill();
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    if (!L.scene) {
        ctx.fillStyle = TEXT;
        ctx.textAlign = "left";
        if (!lowQuality) {
            wrapText(ctx, "Connect LoadImage nodes to scene and target (or run once with a Preview Image of a "
                + "generated scene) to place the target here by dragging; wheel or corner handle: size.",
            area.x + 10, area.y + 16, area.w - 20, 14, 5);
        }
        ctx.restore();
        return;
    }
    const { fit, rect, p } = L;
    ctx.drawImage(L.scene, fit.x, fit.y, fit.w, fit.h);
    // the target, clipped to the scene like place_target clips it
    ctx.save();
    ctx.beginPath();
    ctx.rect(fit.x, fit.y, fit.w, fit.h);
    ctx.clip();
    if (L.target) {
        ctx.save();
        if (p.flip) {
            ctx.translate(rect.x + rect.w, rect.y);
            ctx.scale(-1, 1);
            ctx.drawImage(L.target, 0, 0, rect.w, rect.h);
        } else {
            ctx.drawImage(L.target, rect.x, rect.y, rect.w, rect.h);
        }
        ctx.restore();
    }
    ctx.restore();
    // outline and the scale handle
    ctx.strokeStyle = BOX;
    ctx.lineWidth = 1.5;
    ctx.setLineDash?.([4, 3]);
    ctx.strokeRect(rect.x, rect.y, rect.w, rect.h);
    ctx.setLineDash?.([]);
    ctx.fillStyle = BOX;
    ctx.fillRect(L.handle.x, L.handle.y, L.handle.w, L.handle.h);
    if (!lowQuality) {
        ctx.fillStyle = TEXT;
        ctx.textAlign = "left";
        const msg = L.target ? `x ${p.x.toFixed(3)}  y ${p.y.toFixed(3)}  scale ${p.scale.toFixed(3)}${p.flip ? "  flipped" : ""}`
            : "connect a LoadImage to target to see it here";
        fitText(ctx, msg, area.x + 8, area.y + area.h - 9, area.w - 16);
    }
    ctx.restore();
}

// --- dragging -------------------------------------------------------------------------------
function startDrag(node, pos) {
    const L = node.__fillblankEditor;
    if (!L?.scene || !inside(pos, { x: L.fit.x, y: L.fit.y, w: L.fit.w, h: L.fit.h }) && !inside(pos, L.handle)) return false;
    const p = placementOf(node);
    const cx = L.rect.x + L.rect.w / 2, cy = L.rect.y + L.rect.h / 2;
    if (inside(pos, L.handle)) {
        if (linked(node, "scale")) return false;
        const d0 = Math.hypot(pos[0] - cx, pos[1] - cy);
        node.__fillblankDrag = { mode: "scale", cx, cy, d0: Math.max(d0, 1), scale0: p.scale };
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
        const dist = Math.hypot(pos[0] - d.cx, pos[1] - d.cy);
        setNumber(node, "scale", d.scale0 * dist / d.d0);
    } else {
        setNumber(node, "x", d.x0 + (pos[0] - d.start[0]) / d.fw);
        setNumber(node, "y", d.y0 + (pos[1] - d.start[1]) / d.fh);
    }
    node.setDirtyCanvas?.(true, true);
}

function endDrag(node) {
    if (!node.__fillblankDrag) return;
    node.__fillblankDrag = null;
    try {
        node.captureInput?.(false);
        node.graph?.change?.();
    } catch (err) {
        report("end drag", err);
    }
}

/** The FillBlankTargetEncoder editor under a wheel event on the graph canvas, or null. */
function editorUnder(e) {
    const c = app.canvas;
    const el = c?.canvas;
    if (!el || e.target !== el || !c.graph || !c.ds?.offset || typeof c.graph.getNodeOnPos !== "function") return null;
    const r = el.getBoundingClientRect();
    const s = c.ds.scale || 1;
    const gx = (e.clientX - r.left) / s - c.ds.offset[0];
    const gy = (e.clientY - r.top) / s - c.ds.offset[1];
    const node = c.graph.getNodeOnPos(gx, gy, c.visible_nodes);
    const L = node?.__fillblankEditor;
    if (!node || (node.comfyClass !== NODE && node.type !== NODE) || !L?.scene || !L?.target) return null;
    const pos = [gx - node.pos[0], gy - node.pos[1]];
    return inside(pos, { x: L.fit.x, y: L.fit.y, w: L.fit.w, h: L.fit.h }) ? node : null;
}

/**
 * The wheel over the editor scales the target instead of zooming the canvas. A capturing listener
 * on the window (added, nothing replaced) sees the event before the canvas does, in the 2024 and
 * the later frontends alike; everywhere else the wheel keeps its usual meaning.
 */
function onWheel(e) {
    try {
        const node = editorUnder(e);
        if (!node || linked(node, "scale")) return;
        e.preventDefault();
        e.stopImmediatePropagation();
        if (e.type !== "wheel") return; // the legacy mousewheel / DOMMouseScroll twins: only swallowed
        const d = e.deltaY || e.deltaX || 0;
        if (!d) return;
        const up = d < 0;
        const s = placementOf(node).scale;
        setNumber(node, "scale", up ? s * 1.05 : s / 1.05);
        node.setDirtyCanvas?.(true, true);
        node.graph?.change?.();
    } catch (err) {
        report("wheel", err);
    }
}

function installWheel() {
    if (globalThis.__fillblankWheel || typeof window === "undefined") return;
    globalThis.__fillblankWheel = true;
    for (const type of ["wheel", "mousewheel", "DOMMouseScroll"]) {
        window.addEventListener(type, onWheel, { capture: true, passive: false });
    }
}

app.registerExtension({
    name: "fillblank.placementEditor",
    setup() {
        try {
            installWheel();
        } catch (err) {
            report("wheel setup", err);
        }
    },
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData?.name !== NODE) return;
        const proto = nodeType.prototype;
        const baseComputeSize = reserveArea(nodeType, AREA_H, MIN_W);

        const origDraw = proto.onDrawForeground;
        proto.onDrawForeground = function (ctx, graphCanvas) {
            const r = origDraw?.apply(this, arguments);
            try {
                if (this.flags?.collapsed || !ctx || typeof ctx.drawImage !== "function") {
                    this.__fillblankEditor = null;
                    return r;
                }
                const L = layout(this, contentTop(this, baseComputeSize));
                this.__fillblankEditor = L;
                if (L) drawEditor(this, ctx, L, !!graphCanvas?.low_quality);
            } catch (err) {
                this.__fillblankEditor = null;
                report("placement editor", err);
            }
            return r;
        };

        const origDown = proto.onMouseDown;
        proto.onMouseDown = function (e, pos) {
            const r = origDown?.apply(this, arguments);
            if (r) return r;
            try {
                if (Array.isArray(pos) || ArrayBuffer.isView(pos)) {
                    if (startDrag(this, pos)) {
                        this.captureInput?.(true);
                        this.setDirtyCanvas?.(true, true);
                        return true;
                    }
                }
            } catch (err) {
                report("mouse down", err);
            }
            return r;
        };

        const origMove = proto.onMouseMove;
        proto.onMouseMove = function (e, pos) {
            const r = origMove?.apply(this, arguments);
            try {
                if (this.__fillblankDrag) {
                    if (e && e.buttons === 0) endDrag(this); // released outside the canvas
                    else if (pos) moveDrag(this, pos);
                }
            } catch (err) {
                report("mouse move", err);
            }
            return r;
        };

        const origUp = proto.onMouseUp;
        proto.onMouseUp = function (e, pos) {
            const r = origUp?.apply(this, arguments);
            try {
                if (this.__fillblankDrag) {
                    if (pos) moveDrag(this, pos);
                    endDrag(this);
                }
            } catch (err) {
                report("mouse up", err);
            }
            return r;
        };
    },
    nodeCreated: redrawWhenWidgetsChange(NODE, "placement editor setup"),
});
