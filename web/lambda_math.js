// λ schedules in JavaScript: the same formulas as fillblank_core/schedules.py (LambdaSchedule,
// parse_keyframes), for the live curve on FillBlankLambdaSchedule. Pure maths: no DOM, no app
// imports, so node can import this file (tests/test_web_schedule_parity.py checks JS == Python).
// Keep the two in step.

export const KINDS = ["constant", "linear", "cosine", "exponential", "step", "keyframes"];
export const AXES = ["run", "noise", "steps"];

const KEYFRAME = /^\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*$/;

export class ScheduleError extends Error {
    constructor(message) {
        super(message);
        this.name = "ScheduleError";
    }
}

// Python's float() on the characters the pattern admits: Number() accepts the same spellings
// ("1", "1.", ".5", "+1e-3") and gives NaN for the ones float() rejects ("1e", ".", "1.2.3", "-").
function toFloat(text) {
    const s = text.trim();
    if (!s) return NaN;
    return Number(s);
}

function checkUnit(name, value) {
    const v = typeof value === "number" ? value : Number(value);
    if (value === null || value === undefined || value === "" || Number.isNaN(v)) {
        throw new ScheduleError(`${name} must be a number in [0, 1], got ${JSON.stringify(value)}`);
    }
    if (!Number.isFinite(v) || v < 0 || v > 1) {
        throw new ScheduleError(`${name} must be in [0, 1], got ${value}`);
    }
    return v;
}

/** "0:1.0, 0.4:0.6, 0.7:0" -> [[0, 1], [0.4, 0.6], [0.7, 0]]; throws ScheduleError like the core. */
export function parseKeyframes(text) {
    if (typeof text !== "string" || !text.trim()) {
        throw new ScheduleError("keyframes must be a string like '0:1.0, 0.4:0.6, 0.7:0', got an empty value");
    }
    const frames = [];
    for (const part of text.split(/[;,]/)) {
        const p = part.trim();
        if (!p) continue;
        const m = KEYFRAME.exec(part);
        if (m === null) {
            throw new ScheduleError(`keyframes: cannot read '${p}'; expected 'position:value' pairs separated by commas, e.g. '0:1.0, 0.4:0.6, 0.7:0'`);
        }
        const pos = toFloat(m[1]);
        const val = toFloat(m[2]);
        if (Number.isNaN(pos) || Number.isNaN(val)) {
            throw new ScheduleError(`keyframes: '${p}' is not a pair of numbers`);
        }
        checkUnit(`keyframes position in '${p}'`, pos);
        checkUnit(`keyframes value in '${p}'`, val);
        if (frames.length && pos <= frames[frames.length - 1][0]) {
            throw new ScheduleError(`keyframes positions must increase strictly; ${pos} comes after ${frames[frames.length - 1][0]}`);
        }
        frames.push([pos, val]);
    }
    if (!frames.length) {
        throw new ScheduleError("keyframes must contain at least one 'position:value' pair");
    }
    return frames;
}

// numpy.interp for increasing xs: flat outside, linear inside, exact at the knots
function interp(p, xs, ys) {
    const n = xs.length;
    if (p <= xs[0]) return ys[0];
    if (p >= xs[n - 1]) return ys[n - 1];
    let j = 0;
    while (j < n - 2 && p >= xs[j + 1]) j++;
    if (p === xs[j]) return ys[j];
    const slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]);
    return slope * (p - xs[j]) + ys[j];
}

const clamp01 = (v) => Math.min(Math.max(v, 0), 1);

/**
 * A validated schedule from the node's widget values:
 * {kind, axis, start, end, value, cutoff, rate, keyframes}. Returns {params, frames, at(p), array(n),
 * describe()}; throws ScheduleError with the core's wording for bad values.
 */
export function makeSchedule(opts = {}) {
    const kind = opts.kind ?? "linear";
    if (!KINDS.includes(kind)) {
        throw new ScheduleError(`schedule kind must be one of ${KINDS.join(", ")}, got ${JSON.stringify(kind)}`);
    }
    const axis = opts.axis ?? "steps";
    if (!AXES.includes(axis)) {
        throw new ScheduleError(`schedule axis must be one of ${AXES.join(", ")}, got ${JSON.stringify(axis)}`);
    }
    const params = { kind, axis };
    for (const [name, def] of [["start", 1.0], ["end", 0.0], ["value", 1.0], ["cutoff", 0.5]]) {
        params[name] = checkUnit(name, opts[name] ?? def);
    }
    const rate = Number(opts.rate ?? 5.0);
    if (!Number.isFinite(rate) || rate <= 0) {
        throw new ScheduleError(`rate must be a positive number, got ${opts.rate}`);
    }
    params.rate = rate;
    const frames = kind === "keyframes" ? parseKeyframes(opts.keyframes ?? "") : null;

    const at = (p) => {
        p = clamp01(Number(p));
        const { start, end, value, cutoff } = params;
        let out;
        if (kind === "constant") {
            out = value;
        } else if (kind === "linear") {
            out = start + (end - start) * p;
        } else if (kind === "cosine") {
            out = start + (end - start) * (1.0 - Math.cos(Math.PI * p)) / 2.0;
        } else if (kind === "exponential") {
            const decay = (Math.exp(-rate * p) - Math.exp(-rate)) / (1.0 - Math.exp(-rate));
            out = end + (start - end) * decay;
        } else if (kind === "step") {
            out = p < cutoff ? value : 0.0;
        } else {
            out = interp(p, frames.map((f) => f[0]), frames.map((f) => f[1]));
        }
        return clamp01(out);
    };

    const describe = () => {
        const g = (v) => String(Number(v.toPrecision(6)));
        const over = { run: " over the run", noise: " over noise level", steps: " over steps" }[axis];
        if (kind === "constant") return `constant ${g(params.value)}`;
        if (kind === "linear" || kind === "cosine") return `${kind} ${g(params.start)}→${g(params.end)}${over}`;
        if (kind === "exponential") return `exponential ${g(params.start)}→${g(params.end)} (rate ${g(rate)})${over}`;
        if (kind === "step") return `step ${g(params.value)} until ${g(params.cutoff)}${over}`;
        return "keyframes " + frames.map(([a, b]) => `${g(a)}:${g(b)}`).join(", ") + over;
    };

    return { params, frames, at, array: (steps) => progress(steps).map(at), describe };
}

/** Progress of each of `steps` sampling steps: 0 for the first, 1 for the last (as the core). */
export function progress(steps) {
    steps = Math.trunc(Number(steps));
    if (!(steps >= 1)) throw new ScheduleError(`steps must be at least 1, got ${steps}`);
    if (steps === 1) return [0];
    return Array.from({ length: steps }, (_, i) => i / (steps - 1));
}

/** λ at progress p for the given widget values (convenience for one-off calls). */
export function lambdaAt(opts, p) {
    return makeSchedule(opts).at(p);
}
