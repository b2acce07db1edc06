// Shared helpers of the fillblank frontend extensions (lambda_curve.js, placement_editor.js).
//
// The editors are DOM widgets (node.addDOMWidget) that hold a <canvas> of their own, so that both
// renderers of the ComfyUI frontend show them: the canvas renderer lays the element over the node,
// the Vue node renderer ("Nodes 2.0") mounts it inside the node's DOM. Nothing is patched on the
// node type's prototype; input comes from pointer events on our own element (with pointer capture
// on it), and links are read through the node methods the frontend keeps (getInputLink,
// getOutputNodes, isInputConnected), never through the deprecated input.link / output.links.
import { app } from "../../scripts/app.js";

const reported = new Set();

/** Log an error of ours once per place, prefixed "[fillblank]", and keep the page running. */
export function report(where, err) {
    if (reported.has(where)) return;
    reported.add(where);
    console.error(`[fillblank] ${where}:`, err);
}

export function widget(node, name) {
    return node?.widgets?.find((w) => w.name === name);
}

export function widgetValue(node, name, fallback) {
    const w = widget(node, name);
    return w === undefined || w.value === undefined ? fallback : w.value;
}

/** True in the Vue node renderer (Comfy.VueNodes.Enabled), where nodes are DOM. */
export function vueNodes() {
    return !!globalThis.LiteGraph?.vueNodesMode;
}

/** Chain a function after obj[key] (a callback), keeping what was there. */
export function chain(obj, key, fn) {
    const orig = obj[key];
    obj[key] = function () {
        const r = typeof orig === "function" ? orig.apply(this, arguments) : undefined;
        try {
            fn.apply(this, arguments);
        } catch (err) {
            report(`${key} chain`, err);
        }
        return r;
    };
}

function inputSlot(node, name) {
    return (node?.inputs ?? []).findIndex((i) => i.name === name || i.widget?.name === name);
}

/** The node feeding input `name` and the link's origin slot, or null. */
export function inputSource(node, name) {
    const slot = inputSlot(node, name);
    if (slot < 0 || !node.graph || typeof node.getInputLink !== "function") return null;
    const link = node.getInputLink(slot);
    if (!link) return null;
    const src = node.graph.getNodeById(link.origin_id);
    return src ? { node: src, slot: link.origin_slot } : null;
}

/** True when the input (or the widget of that name, as an input) has a link. */
export function linked(node, name) {
    const slot = inputSlot(node, name);
    return slot >= 0 && typeof node.isInputConnected === "function" && node.isInputConnected(slot);
}

/** Nodes fed by output `slot` of `node` (through Reroute nodes). */
export function outputTargets(node, slot, hops = 16) {
    const out = [];
    const targets = typeof node?.getOutputNodes === "function" ? node.getOutputNodes(slot) ?? [] : [];
    for (const t of targets) {
        if (t.type === "Reroute" && hops > 0) out.push(...outputTargets(t, 0, hops - 1));
        else out.push(t);
    }
    return out;
}

/**
 * Show only the named widgets of `names`; the rest of `names` are hidden. A widget whose value
 * comes through a link stays shown (its input must stay visible). With `resize`, the node's height
 * follows (not when a saved workflow is loaded: its size is already right). Returns true when
 * anything changed.
 */
export function showOnly(node, names, visible, resize = true) {
    const changes = [];
    for (const name of names) {
        const w = widget(node, name);
        if (!w) continue;
        const hide = !visible.has(name) && !linked(node, name);
        // what `hidden =` sets (a linked widget also reads as hidden: its control gives way to the link)
        const hidden = w.visibility?.suppression?.byExtension ?? w.hidden;
        if (!!hidden !== hide) changes.push([w, hide]);
    }
    if (!changes.length) return false;
    const before = resize ? minHeight(node) : null;
    for (const [w, hide] of changes) {
        w.hidden = hide;
        // frontend 1.35.x (Dec 2025) Vue nodes ignore `hidden` and leave out a widget whose
        // options.hidden is set; 1.5x has the visibility API (`hidden` is its extension switch)
        if (!("visibility" in w) && w.options) w.options.hidden = hide;
    }
    if (resize) followHeight(node, before);
    return true;
}

function minHeight(node) {
    try {
        return typeof node.computeSize === "function" ? node.computeSize()[1] : null;
    } catch (err) {
        return null;
    }
}

/**
 * After widgets appeared or vanished (canvas renderer): the node grows or shrinks by what its
 * content did, keeping any extra height the user gave it. In the Vue node renderer the DOM sizes
 * the node.
 */
function followHeight(node, before) {
    try {
        const after = minHeight(node);
        if (vueNodes() || before === null || after === null || typeof node.setSize !== "function") return;
        node.setSize([node.size[0], Math.max(after, node.size[1] + after - before)]);
        node.setDirtyCanvas?.(true, true);
    } catch (err) {
        report("node size", err);
    }
}

// --- the canvas widget ------------------------------------------------------------------------

const editors = new Set();
let ticker = null;

/** Bring editors up to date with what changed without telling them (an image loaded, a linked
 * node's widget, a saved workflow's values), and redraw those whose drawing changed. */
function tick() {
    for (const ed of editors) {
        if (!ed.node.graph) {
            editors.delete(ed);
            continue;
        }
        try {
            remount(ed);
        } catch (err) {
            report("remount", err);
        }
        ed.check();
    }
    if (!editors.size) {
        clearInterval(ticker);
        ticker = null;
    }
}

/**
 * Vue node renderer (frontend 1.58.1): a graph reload that keeps a node's id (undo, redo) keeps that
 * node's Vue component, which goes on showing the DOM element of the node object it replaced; the
 * new node's element is never mounted. Put it where the stale one is.
 */
function remount(ed) {
    if (!vueNodes() || ed.element.isConnected || ed.node.id == null || ed.node.id === -1) return;
    const node = document.querySelector(`.lg-node[data-node-id="${CSS.escape(String(ed.node.id))}"]`);
    const row = node?.querySelector(`[data-widget-name="${CSS.escape(ed.widget.name)}"]`);
    const stale = row?.querySelector(".fillblank-editor");
    if (stale && stale !== ed.element) stale.replaceWith(ed.element);
}

/**
 * Add a DOM widget holding a canvas to `node`, below its other widgets.
 * spec: {name, minHeight (of the drawing), minWidth (of a new node), tooltip, className,
 *        paint(ctx, w, h) (CSS px),
 *        sync() -> string: brings the node up to date (e.g. which widgets show) and returns what the
 *                          drawing depends on,
 *        pointer: {down(e, pos) -> true to start a drag, move(e, pos), up(e, pos or null when
 *                  cancelled), hover(e, pos) -> cursor}}; pos in the canvas's CSS px.
 * Returns the editor: {node, widget, element, canvas, redraw(), check(), local(e)}.
 */
export function addCanvasWidget(node, spec) {
    const element = document.createElement("div");
    element.className = `fillblank-editor ${spec.className ?? ""}`.trim();
    Object.assign(element.style, {
        position: "relative", width: "100%", height: "100%", minHeight: `${spec.minHeight}px`,
        overflow: "hidden", boxSizing: "border-box", userSelect: "none",
    });
    const canvas = document.createElement("canvas");
    Object.assign(canvas.style, { position: "absolute", inset: "0", width: "100%", height: "100%", display: "block",
        touchAction: "none" });
    element.appendChild(canvas);
    // the Vue node renderer shows the widget's tooltip itself; the canvas renderer needs a title
    if (spec.tooltip) canvas.addEventListener("pointerenter", () => { canvas.title = vueNodes() ? "" : spec.tooltip; });

    const ed = { node, element, canvas, pending: false, last: null };
    ed.local = (e) => {
        const r = canvas.getBoundingClientRect();
        const kx = canvas.clientWidth ? r.width / canvas.clientWidth : 1;
        const ky = canvas.clientHeight ? r.height / canvas.clientHeight : 1;
        return [(e.clientX - r.left) / (kx || 1), (e.clientY - r.top) / (ky || 1)];
    };
    const ratio = () => {
        const zoom = Number(app.canvas?.ds?.scale ?? 1) || 1;
        return Math.min(4, Math.max(1, (globalThis.devicePixelRatio || 1) * zoom));
    };
    ed.paint = () => {
        ed.pending = false;
        const w = canvas.clientWidth, h = canvas.clientHeight;
        if (!w || !h) return;
        const k = ratio();
        const bw = Math.round(w * k), bh = Math.round(h * k);
        if (canvas.width !== bw) canvas.width = bw;
        if (canvas.height !== bh) canvas.height = bh;
        const ctx = canvas.getContext("2d");
        if (!ctx) return;
        ctx.setTransform(k, 0, 0, k, 0, 0);
        ctx.clearRect(0, 0, w, h);
        try {
            spec.paint(ctx, w, h);
        } catch (err) {
            report(`${spec.name} drawing`, err);
        }
        ed.last = `${w}x${h}@${k}|${safeSignature()}`;
    };
    const safeSignature = () => {
        try {
            return spec.sync?.() ?? "";
        } catch (err) {
            report(`${spec.name} state`, err);
            return "";
        }
    };
    ed.redraw = () => {
        if (ed.pending) return;
        ed.pending = true;
        requestAnimationFrame(ed.paint);
    };
    /** Redraw when the size, the zoom or what the drawing depends on changed since the last paint. */
    ed.check = () => {
        const sig = safeSignature(); // also while the drawing is not shown (off screen, not mounted)
        const w = canvas.clientWidth, h = canvas.clientHeight;
        if (w && h && ed.last !== `${w}x${h}@${ratio()}|${sig}`) ed.redraw();
    };

    const w = node.addDOMWidget(spec.name, `fillblank_${spec.name}`, element, {
        serialize: false, // neither in the workflow's widgets_values nor in the prompt
        hideOnZoom: true,
        // the canvas renderer puts the element `margin` px inside the widget's row on each side
        getMinHeight: () => spec.minHeight + 2 * (ed.widget?.margin ?? 10),
        getValue: () => undefined,
        setValue: () => {},
        // the properties panel would take the element out of the node: keep it to the node
        surfaces: { canvas: "shown", vueNode: "shown", panel: "never" },
        // the canvas renderer calls this whenever it draws the node
        onDraw: () => ed.check(),
    });
    w.serialize = false;
    if (spec.tooltip) w.tooltip = spec.tooltip;
    ed.widget = w;
    // a new node gets room for the drawing (a loaded one keeps its saved size)
    try {
        if (spec.minWidth && node.size?.[0] < spec.minWidth) node.setSize?.([spec.minWidth, node.size[1]]);
    } catch (err) {
        report(`${spec.name} size`, err);
    }

    // pointer input on our own element, captured on it while dragging
    const p = spec.pointer;
    if (p) {
        let dragging = null;
        // released: the last position counts; cancelled or capture lost: the drag ends where it was
        const finish = (e, released) => {
            if (dragging === null) return;
            const id = dragging;
            dragging = null;
            try {
                if (canvas.hasPointerCapture?.(id)) canvas.releasePointerCapture(id);
            } catch (err) { /* already released */ }
            try {
                p.up?.(e, released ? ed.local(e) : null);
            } catch (err) {
                report(`${spec.name} pointer up`, err);
            }
        };
        canvas.addEventListener("pointerdown", (e) => {
            if (e.button !== 0 || dragging !== null) return;
            let started = false;
            try {
                started = !!p.down?.(e, ed.local(e));
            } catch (err) {
                report(`${spec.name} pointer down`, err);
            }
            if (!started) return;
            dragging = e.pointerId;
            try {
                canvas.setPointerCapture(e.pointerId);
            } catch (err) { /* a synthetic pointer: moves still arrive while over the element */ }
            // no preventDefault: the mouseup that follows is what the frontend's undo history
            // listens for (user-select: none keeps the drag from selecting text instead)
            e.stopPropagation();
        });
        canvas.addEventListener("pointermove", (e) => {
            try {
                if (dragging === e.pointerId) {
                    p.move?.(e, ed.local(e));
                    e.preventDefault();
                    e.stopPropagation();
                } else if (dragging === null && p.hover) {
                    canvas.style.cursor = p.hover(e, ed.local(e)) || "";
                }
            } catch (err) {
                report(`${spec.name} pointer move`, err);
            }
        });
        canvas.addEventListener("pointerup", (e) => {
            if (dragging !== e.pointerId) return;
            e.stopPropagation();
            finish(e, true);
        });
        canvas.addEventListener("pointercancel", (e) => finish(e, false));
        canvas.addEventListener("lostpointercapture", (e) => finish(e, false));
    }

    if (typeof ResizeObserver === "function") {
        const ro = new ResizeObserver(() => ed.redraw());
        ro.observe(canvas);
        chain(w, "onRemove", () => ro.disconnect());
    }
    chain(w, "onRemove", () => editors.delete(ed));
    editors.add(ed);
    if (ticker === null) ticker = setInterval(tick, 200);
    return ed;
}

/**
 * The wheel over our element in the canvas renderer: to the graph canvas, as over any node
 * (zoom or pan, as the user's settings say). The Vue node renderer forwards it itself.
 */
export function forwardWheelToCanvas(e) {
    if (e.defaultPrevented || vueNodes()) return;
    const target = app.canvas?.canvas;
    if (!target) return;
    e.preventDefault();
    e.stopPropagation();
    const { clientX, clientY, deltaX, deltaY, deltaMode, ctrlKey, metaKey, shiftKey, altKey } = e;
    target.dispatchEvent(new WheelEvent("wheel", { clientX, clientY, deltaX, deltaY, deltaMode, ctrlKey, metaKey,
        shiftKey, altKey, bubbles: true, cancelable: true }));
}

// --- drawing helpers ----------------------------------------------------------------------------

export function roundRect(ctx, x, y, w, h, r) {
    ctx.beginPath();
    if (typeof ctx.roundRect === "function") {
        ctx.roundRect(x, y, w, h, r);
    } else {
        ctx.rect(x, y, w, h);
    }
}

/** Draw text shortened with "…" to fit maxWidth. */
export function fitText(ctx, text, x, y, maxWidth) {
    let t = String(text);
    if (maxWidth <= 0) return;
    if (ctx.measureText(t).width > maxWidth) {
        while (t.length > 1 && ctx.measureText(t + "…").width > maxWidth) t = t.slice(0, -1);
        t += "…";
    }
    ctx.fillText(t, x, y);
}

/** Word-wrap text into lines no wider than maxWidth; returns the y after the last line. */
export function wrapText(ctx, text, x, y, maxWidth, lineHeight, maxLines = 6) {
    const words = String(text).split(/\s+/);
    let line = "";
    let n = 0;
    for (const word of words) {
        const trial = line ? `${line} ${word}` : word;
        if (line && ctx.measureText(trial).width > maxWidth) {
            if (n + 1 >= maxLines) {
                fitText(ctx, trial, x, y, maxWidth);
                return y + lineHeight;
            }
            ctx.fillText(line, x, y);
            y += lineHeight;
            n++;
            line = word;
        } else {
            line = trial;
        }
    }
    if (line) {
        fitText(ctx, line, x, y, maxWidth);
        y += lineHeight;
    }
    return y;
}
