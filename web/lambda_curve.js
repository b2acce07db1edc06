// FillBlankLambdaSchedule: its λ curve, drawn live in a canvas widget under the node's widgets
// (a DOM widget: the canvas renderer and the Vue node renderer both show it), redrawn as the
// widgets change, with no server round-trip (the formulas are in lambda_math.js, the core's in JS).
// The node shows only the widgets its `kind` uses, and `preview_steps` only where it matters
// (axis "steps", no Fill-in Sampler connected whose step count the plot can use instead).
import { app } from "../../scripts/app.js";
import { makeSchedule, progress } from "./lambda_math.js";
import { addCanvasWidget, chain, fitText, linked, outputTargets, report, roundRect, showOnly, widget, widgetValue,
    wrapText } from "./fillblank_ui.js";

const NODE = "FillBlankLambdaSchedule";
export const EDITOR = "lambda_curve"; // the DOM widget's name
const MIN_H = 150; // px of the drawing
const MIN_W = 300; // px, width of a new node
const MAX_DOTS = 200;

/** The widgets each kind reads; the others are hidden. `kind` and `axis` always show. */
export const USES = {
    constant: ["value"],
    linear: ["start", "end"],
    cosine: ["start", "end"],
    exponential: ["start", "end", "rate"],
    step: ["value", "cutoff"],
    keyframes: ["keyframes"],
};
const OPTIONAL = ["start", "end", "value", "cutoff", "rate", "keyframes", "preview_steps"];

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
        axis: widgetValue(node, "axis", "run"),
        start: widgetValue(node, "start", 1.0),
        end: widgetValue(node, "end", 0.0),
        value: widgetValue(node, "value", 0.8),
        cutoff: widgetValue(node, "cutoff", 0.5),
        rate: widgetValue(node, "rate", 5.0),
        keyframes: widgetValue(node, "keyframes", "0:1, 0.6:1, 0.8:0"),
    });
}

/** The step count of a sampler this schedule feeds (its own `steps` widget), or null. */
export function samplerSteps(node) {
    for (const t of outputTargets(node, 0)) {
        const w = widget(t, "steps");
        const n = Math.trunc(Number(w?.value));
        if (w && !linked(t, "steps") && n >= 1) return { steps: n, from: t.title || t.type };
    }
    return null;
}

function visibleWidgets(node) {
    const kind = widgetValue(node, "kind", "keyframes");
    const show = new Set(USES[kind] ?? OPTIONAL);
    if (widgetValue(node, "axis", "run") === "steps" && !samplerSteps(node)) show.add("preview_steps");
    return show;
}

/** Which widgets show, and everything the drawing depends on. */
function sync(node, resize = true) {
    showOnly(node, OPTIONAL, visibleWidgets(node), resize);
    const values = (node.widgets ?? []).filter((w) => w.name !== EDITOR).map((w) => [w.name, w.value]);
    return JSON.stringify([values, samplerSteps(node)]);
}

/** Draw the λ curve into the canvas (0, 0, w, h), in CSS px. */
function drawCurve(node, ctx, w, h) {
    ctx.fillStyle = BG;
    roundRect(ctx, 0, 0, w, h, 6);
    ctx.fill();
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";

    let sched;
    try {
        sched = scheduleOf(node);
    } catch (err) {
        // a half-typed keyframe string or an out-of-range value: say so instead of a curve
        const msg = String(err?.message ?? err);
        ctx.fillStyle = ERROR;
        ctx.textAlign = "left";
        wrapText(ctx, msg, 8, 14, w - 16, 14, Math.max(1, Math.floor((h - 8) / 14)));
        node.__fillblankPlot = { x: 0, y: 0, w: 0, h: 0, area: { w, h }, error: msg };
        return;
    }

    // plot rectangle: room for the λ labels on the left, the title on top, the x axis below (and,
    // over the steps, a line that says where the dots come from)
    const overSteps = sched.params.axis === "steps";
    const px = 24, py = 26, pw = w - 32, ph = h - (overSteps ? 56 : 42);
    if (pw < 20 || ph < 20) return;
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const v of [0, 0.5, 1]) {
        const gy = Math.round(py + (1 - v) * ph) + 0.5;
        ctx.moveTo(px, gy);
        ctx.lineTo(px + pw, gy);
    }
    ctx.stroke();
    ctx.fillStyle = TEXT;
    ctx.textAlign = "right";
    ctx.fillText("1", px - 6, py);
    ctx.fillText("0", px - 6, py + ph);
    ctx.fillText("λ", px - 6, py + ph / 2);
    ctx.textAlign = "left";
    fitText(ctx, sched.describe(), 8, 10, w - 16);

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

    const below = py + ph + 10;
    const plot = { x: px, y: py, w: pw, h: ph, area: { w, h }, kind: sched.params.kind, axis: sched.params.axis,
        steps: null, stepsFrom: null };
    if (!overSteps) {
        // the x axis is the noise level (axis "run": from the run's noisiest model call to its
        // last); the sampler's steps fall where its own sigmas put them
        const run = sched.params.axis === "run";
        ctx.fillStyle = TEXT;
        ctx.textAlign = "left";
        ctx.fillText(run ? "first step" : "noise high", px, below);
        ctx.textAlign = "right";
        ctx.fillText(run ? "last step" : "low", px + pw, below);
    } else {
        // λ at each step: the connected sampler's step count, else preview_steps (for this plot only)
        const fed = samplerSteps(node);
        const steps = fed ? fed.steps : Math.trunc(Number(widgetValue(node, "preview_steps", 20)));
        plot.steps = steps;
        plot.stepsFrom = fed ? fed.from : "preview_steps";
        if (steps >= 1 && steps <= MAX_DOTS) {
            const r = steps > 60 ? 1.5 : 2.5;
            ctx.fillStyle = DOTS;
            for (const p of progress(steps)) {
                ctx.beginPath();
                ctx.arc(px + p * pw, py + (1 - sched.at(p)) * ph, r, 0, 2 * Math.PI);
                ctx.fill();
            }
        }
        ctx.fillStyle = TEXT;
        ctx.textAlign = "left";
        ctx.fillText("step 1", px, below);
        ctx.textAlign = "right";
        ctx.fillText(`step ${steps}`, px + pw, below);
        const note = fed ? `dots: the ${steps} steps of ${fed.from}` : `dots: ${steps} preview steps, for this plot only`;
        ctx.textAlign = "left";
        fitText(ctx, note, 8, h - 9, w - 16);
        plot.note = note;
    }
    // where the plot is, in the canvas's CSS px (read by the browser test)
    node.__fillblankPlot = plot;
}

app.registerExtension({
    name: "fillblank.lambdaCurve",
    nodeCreated(node) {
        if (node?.comfyClass !== NODE && node?.type !== NODE) return;
        try {
            const ed = addCanvasWidget(node, {
                name: EDITOR,
                className: "fillblank-lambda-curve",
                minHeight: MIN_H,
                minWidth: MIN_W,
                tooltip: "λ over the run's noise levels (its first step → its last), the absolute noise level or the steps, as the sampler will use it. "
                    + "It follows the widgets; nothing here is sent anywhere.",
                paint: (ctx, w, h) => drawCurve(node, ctx, w, h),
                sync: () => sync(node),
            });
            node.__fillblankCurve = ed;
            // a saved workflow: its links, widget values and the size saved with them arrive after
            // creation, through configure; until it is done nothing here resizes the node
            let loading = false;
            const changed = () => {
                if (loading) return;
                ed.check();
                ed.redraw();
            };
            const configure = node.configure;
            node.configure = function () {
                loading = true;
                try {
                    return configure.apply(this, arguments);
                } finally {
                    loading = false;
                    try {
                        sync(node, false);
                        ed.redraw();
                    } catch (err) {
                        report("λ curve configure", err);
                    }
                }
            };
            for (const w of node.widgets ?? []) {
                if (w !== ed.widget) chain(w, "callback", changed);
            }
            // a sampler connected or disconnected: its step count, and whether preview_steps shows
            chain(node, "onConnectionsChange", changed);
            sync(node);
        } catch (err) {
            report("λ curve setup", err);
        }
    },
});
