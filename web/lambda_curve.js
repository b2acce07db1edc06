// FillBlankLambdaSchedule: draws its λ curve on the node, below the widgets, and redraws as the
// widgets change. No server round-trip: the formulas are in lambda_math.js (the core's, in JS).
import { app } from "../../scripts/app.js";
import { makeSchedule, progress } from "./lambda_math.js";
import { contentTop, redrawWhenWidgetsChange, report, reserveArea, roundRect, widgetValue, wrapText, fitText } from "./fillblank_ui.js";

const NODE = "FillBlankLambdaSchedule";
const AREA_H = 150; // px reserved below the widgets
const MIN_W = 300;

// colours (the browser test finds the curve by CURVE's colour)
export const CURVE = "#40c8ff";
const DOTS = "#ffa040";
const BG = "#161616";
const GRID = "#3a3a3a";
const TEXT = "#a0a0a0";
const ERROR = "#ff6060";

function scheduleOf(node) {
    return makeSchedule({
        kind: widgetValue(node, "kind", "keyframes"),
        axis: widgetValue(node, "axis", "noise"),
        start: widgetValue(node, "start", 1.0),
        end: widgetValue(node, "end", 0.0),
        value: widgetValue(node, "value", 0.8),
        cutoff: widgetValue(node, "cutoff", 0.5),
        rate: widgetValue(node, "rate", 5.0),
        keyframes: widgetValue(node, "keyframes", "0:1, 0.6:1, 0.8:0"),
    });
}

/** Draw the λ curve into the node-local rectangle (x, y, w, h). */
function drawCurve(node, ctx, x, y, w, h, lowQuality) {
    ctx.save();
    ctx.fillStyle = BG;
    roundRect(ctx, x, y, w, h, 6);
    ctx.fill();
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";

    let sched;
    try {
        sched = scheduleOf(node);
    } catch (err) {
        // a half-typed keyframe string or an out-of-range value: say so instead of a curve
        ctx.fillStyle = ERROR;
        ctx.textAlign = "left";
        wrapText(ctx, String(err?.message ?? err), x + 8, y + 14, w - 16, 14, Math.max(1, Math.floor((h - 8) / 14)));
        ctx.restore();
        node.__fillblankPlot = { x, y, w: 0, h: 0, area: [x, y, w, h], error: String(err?.message ?? err) };
        return;
    }

    // plot rectangle: room for the λ labels on the left, the title on top, the steps below
    const px = x + 24, py = y + 26, pw = w - 32, ph = h - 42;
    if (pw < 20 || ph < 20) {
        ctx.restore();
        return;
    }
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const v of [0, 0.5, 1]) {
        const gy = Math.round(py + (1 - v) * ph) + 0.5;
        ctx.moveTo(px, gy);
        ctx.lineTo(px + pw, gy);
    }
    ctx.stroke();
    if (!lowQuality) {
        ctx.fillStyle = TEXT;
        ctx.textAlign = "right";
        ctx.fillText("1", px - 6, py);
        ctx.fillText("0", px - 6, py + ph);
        ctx.fillText("λ", px - 6, py + ph / 2);
        ctx.textAlign = "left";
        fitText(ctx, sched.describe(), x + 8, y + 10, w - 16);
    }

    // the continuous curve, one sample per pixel column
    const n = Math.max(2, Math.round(pw) + 1);
    ctx.strokeStyle = CURVE;
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
        const p = i / (n - 1);
        const cx = px + p * pw;
        const cy = py + (1 - sched.at(p)) * ph;
        if (i === 0) ctx.moveTo(cx, cy);
        else ctx.lineTo(cx, cy);
    }
    ctx.stroke();

    // axis "noise": the x axis is the noise level; the steps fall where the sampler's schedule puts them
    if (sched.params.axis === "noise") {
        if (!lowQuality) {
            ctx.fillStyle = TEXT;
            ctx.textAlign = "left";
            ctx.fillText("noise high", px, py + ph + 10);
            ctx.textAlign = "right";
            ctx.fillText("low", px + pw, py + ph + 10);
        }
    }
    // λ at each of the preview steps
    const steps = Math.trunc(Number(widgetValue(node, "preview_steps", 20)));
    if (sched.params.axis !== "noise" && steps >= 1 && steps <= 200) {
        const ps = progress(steps);
        const r = steps > 60 ? 1.5 : 2.5;
        ctx.fillStyle = DOTS;
        for (const p of ps) {
            ctx.beginPath();
            ctx.arc(px + p * pw, py + (1 - sched.at(p)) * ph, r, 0, 2 * Math.PI);
            ctx.fill();
        }
        if (!lowQuality) {
            ctx.fillStyle = TEXT;
            ctx.textAlign = "left";
            ctx.fillText("step 1", px, py + ph + 10);
            ctx.textAlign = "right";
            ctx.fillText(`step ${steps}`, px + pw, py + ph + 10);
        }
    }
    ctx.restore();
    // where the plot is, in node-local px (read by the browser test)
    node.__fillblankPlot = { x: px, y: py, w: pw, h: ph, kind: sched.params.kind };
}

app.registerExtension({
    name: "fillblank.lambdaCurve",
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData?.name !== NODE) return;
        const baseComputeSize = reserveArea(nodeType, AREA_H, MIN_W);

        const origDraw = nodeType.prototype.onDrawForeground;
        nodeType.prototype.onDrawForeground = function (ctx, graphCanvas) {
            const r = origDraw?.apply(this, arguments);
            try {
                if (this.flags?.collapsed || !ctx || typeof ctx.fillRect !== "function") return r;
                const top = contentTop(this, baseComputeSize);
                const x = 10, w = this.size[0] - 20, h = this.size[1] - top - 10;
                if (w >= 60 && h >= 40) {
                    drawCurve(this, ctx, x, top, w, h, !!graphCanvas?.low_quality);
                }
            } catch (err) {
                report("λ curve", err);
            }
            return r;
        };
    },
    nodeCreated: redrawWhenWidgetsChange(NODE, "λ curve setup"),
});
