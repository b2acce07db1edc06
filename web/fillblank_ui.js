// Shared helpers of the fillblank frontend extensions (lambda_curve.js, placement_editor.js).
// Feature-detected so that they work in the 2024 LiteGraph frontend and the 2025–26 ComfyUI
// frontend, and do nothing (instead of throwing) where the node is not drawn on a canvas
// (the Vue node renderer).

const reported = new Set();

/** Log an error of ours once per place, prefixed "[fillblank]", and keep the canvas running. */
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

/** False where nodes are not drawn on the canvas (the 2025– frontend's Vue node renderer). */
export function drawsOnCanvas() {
    return !globalThis.LiteGraph?.vueNodesMode;
}

function widgetHeight() {
    return globalThis.LiteGraph?.NODE_WIDGET_HEIGHT ?? 20;
}

/**
 * The y (node-local) below the node's slots and widgets, where our drawing area starts.
 * baseComputeSize: the node type's computeSize before we added our area to it.
 */
export function contentTop(node, baseComputeSize) {
    let top = 0;
    try {
        if (typeof baseComputeSize === "function") top = baseComputeSize.call(node)[1];
    } catch (err) {
        top = 0;
    }
    for (const w of node.widgets ?? []) {
        const y = typeof w.last_y === "number" ? w.last_y : (typeof w.y === "number" ? w.y : null);
        if (y === null || w.type === "converted-widget" || w.hidden) continue;
        let h = widgetHeight();
        try {
            if (typeof w.computeSize === "function") h = w.computeSize(node.size[0])[1];
        } catch (err) { /* keep the default height */ }
        if (h > 0) top = Math.max(top, y + h + 4);
    }
    return top;
}

/**
 * Chain computeSize so the node keeps `extra` px below its widgets (and at least minWidth),
 * and onConfigure so older saved workflows grow to make room. Callbacks are chained, never replaced.
 */
export function reserveArea(nodeType, extra, minWidth) {
    const proto = nodeType.prototype;
    // 2024 LiteGraph copies LGraphNode's methods onto the node type only when it registers it
    // (after beforeRegisterNodeDef); later frontends inherit them. Find the base at call time.
    const own = Object.prototype.hasOwnProperty.call(proto, "computeSize") ? proto.computeSize : undefined;
    const baseComputeSize = function () {
        const base = own ?? Object.getPrototypeOf(proto)?.computeSize
            ?? globalThis.LGraphNode?.prototype?.computeSize ?? globalThis.LiteGraph?.LGraphNode?.prototype?.computeSize;
        return typeof base === "function" ? base.apply(this, arguments) : [this.size?.[0] ?? minWidth, 0];
    };
    proto.computeSize = function () {
        const size = baseComputeSize.apply(this, arguments);
        try {
            if ((Array.isArray(size) || ArrayBuffer.isView(size)) && drawsOnCanvas()) {
                size[0] = Math.max(size[0], minWidth);
                size[1] += extra;
            }
        } catch (err) {
            report("computeSize", err);
        }
        return size;
    };
    const origConfigure = proto.onConfigure;
    proto.onConfigure = function () {
        const r = origConfigure?.apply(this, arguments);
        try {
            if (drawsOnCanvas() && typeof this.computeSize === "function" && typeof this.setSize === "function" && this.size) {
                const min = this.computeSize();
                if (this.size[1] < min[1] || this.size[0] < min[0]) {
                    this.setSize([Math.max(this.size[0], min[0]), Math.max(this.size[1], min[1])]);
                }
            }
        } catch (err) {
            report("onConfigure", err);
        }
        return r;
    };
    return baseComputeSize;
}

/** An extension's nodeCreated hook: redraw nodes of type `nodeName` when their widgets change. */
export function redrawWhenWidgetsChange(nodeName, label) {
    return function (node) {
        if (node?.comfyClass !== nodeName && node?.type !== nodeName) return;
        try {
            redrawOnChange(node);
        } catch (err) {
            report(label, err);
        }
    };
}

/** Chain a widget's callback with a redraw of its node. */
export function redrawOnChange(node) {
    for (const w of node.widgets ?? []) {
        const orig = w.callback;
        w.callback = function () {
            const r = orig?.apply(this, arguments);
            try {
                node.setDirtyCanvas?.(true, true);
            } catch (err) { /* no canvas: nothing to redraw */ }
            return r;
        };
    }
}

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
