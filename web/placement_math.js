// Target placement geometry in JavaScript: the same arithmetic as
// fillblank_core/placement.py (place_target), for the drag-to-place editor on
// FillBlankTargetEncoder. Pure maths: no DOM, no app imports (node imports it in the tests).

/** Python's round(): halves go to the even neighbour (round(2.5) == 2, round(-0.5) == 0). */
export function pyRound(v) {
    const r = Math.round(v);
    if (Math.abs(v % 1) === 0.5) return 2 * Math.round(v / 2);
    return r;
}

/**
 * Where a targetW×targetH target lands on a sceneW×sceneH scene for centre (x, y) in scene
 * fractions and scale = target height / scene height (place_target in the core).
 * Returns {left, top, width, height} (unclipped, scene pixels), box [x0, y0, x1, y1] clipped to the
 * scene, and visible (some of it lies on the scene).
 */
export function placementBox(sceneW, sceneH, targetW, targetH, x, y, scale) {
    const H = Math.trunc(sceneH);
    const W = Math.trunc(sceneW);
    const height = Math.max(1, pyRound(scale * H));
    const width = Math.max(1, pyRound(height * targetW / targetH));
    const left = pyRound(x * W - width / 2.0);
    const top = pyRound(y * H - height / 2.0);
    const box = [Math.max(left, 0), Math.max(top, 0), Math.min(left + width, W), Math.min(top + height, H)];
    return { left, top, width, height, box, visible: box[2] > box[0] && box[3] > box[1] };
}

/** Clamp to [min, max] and round to `precision` decimals (what a ComfyUI FLOAT widget keeps). */
export function widgetNumber(value, min, max, precision = 3) {
    let v = Number(value);
    if (!Number.isFinite(v)) v = min;
    const f = 10 ** precision;
    v = Math.round(v * f) / f;
    return Math.min(Math.max(v, min), max);
}

/**
 * Fit a w×h picture into a box (letterbox, centred). Returns {x, y, w, h, k} with k the
 * picture-pixel → box-pixel factor.
 */
export function fitRect(picW, picH, boxX, boxY, boxW, boxH) {
    const k = Math.min(boxW / picW, boxH / picH);
    const w = picW * k;
    const h = picH * k;
    return { x: boxX + (boxW - w) / 2, y: boxY + (boxH - h) / 2, w, h, k };
}

// --- perspective: objects standing on the ground (fillblank_core/placement.py) -----------------

/** An error of the ground-plane rule (the core raises ValueError with the same first words). */
export class GroundError extends Error {}

/**
 * ground_height in the core: the height (fraction of the scene height) of an object standing on the
 * ground with its centre at y under a horizon at `horizon` (fractions from the top); scaleRef is its
 * height with the base on the bottom edge. h = k·(y − horizon)/(1 − k/2), k = scaleRef/(1 − horizon).
 */
export function groundHeight(scaleRef, y, horizon) {
    if (!(horizon > 0 && horizon < 1)) throw new GroundError(`horizon must lie inside the scene, got ${horizon}`);
    const k = scaleRef / (1 - horizon);
    if (k >= 2) throw new GroundError(`scale ${scaleRef} is too large for a horizon at ${horizon}`);
    if (y <= horizon) throw new GroundError(`y ${y} puts the object at or above the horizon (${horizon})`);
    return k * (y - horizon) / (1 - k / 2);
}

/** reference_scale in the core: the scaleRef that gives `height` at centre y (inverse of groundHeight). */
export function referenceScale(height, y, horizon) {
    const base = y + height / 2;
    if (!(horizon > 0 && horizon < base)) {
        throw new GroundError(`the object's base (${base}) must lie below the horizon (${horizon})`);
    }
    return height * (1 - horizon) / (base - horizon);
}

/**
 * The height the target is shown (and placed) at: scale, or with a horizon (> 0) its ground-plane
 * height at y. {height, error}: where the rule has no answer (the centre at or above the horizon,
 * a scale too large) height is scale and error says why (the run would fail the same way).
 */
export function shownHeight(scale, y, horizon) {
    if (!(horizon > 0)) return { height: scale, error: null };
    try {
        return { height: groundHeight(scale, y, horizon), error: null };
    } catch (e) {
        if (e instanceof GroundError) return { height: scale, error: e.message };
        throw e;
    }
}
