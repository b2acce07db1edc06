// The words a user types to find the pack's nodes in the node search (double-click on the canvas).
// Frontend 1.58.1 searches a node's name, display name and search_aliases, not its description or
// category. ComfyUI sends search_aliases in /object_info only once its V3 Schema has them (after
// 0.3.75, 2026); on 0.3.75 (Dec 2025) and older hosts this extension puts the same words on our node
// definitions before the frontend indexes them (addCustomNodeDefs, refreshComboInNodes), and leaves
// them alone where the server sent its own. The table is nodes/common.py's ALIASES (tests/test_web.py
// checks that the two are equal).
import { app } from "../../scripts/app.js";

export const ALIASES = {
    FillBlankInsert: ["inpaint", "insert object", "object placement", "paste object", "RePaint"],
    FillBlankTargetEncoder: ["inpaint", "insert object", "object placement", "paste object", "RePaint"],
    FillBlankSampler: ["inpaint", "insert object", "object placement", "paste object", "RePaint"],
    FillBlankSamplerSelect: ["inpaint", "insert object", "object placement", "paste object", "RePaint"],
    FillBlankMaskRefiner: ["inpaint mask", "grow mask", "feather mask"],
    FillBlankLambdaSchedule: ["lambda schedule", "guidance schedule"],
    FillBlankComposite: ["paste back", "stitch", "inpaint composite"],
    FillBlankCrop: ["inpaint crop", "crop and stitch"],
    FillBlankSAMLoader: ["segment anything", "SAM model"],
    FillBlankRank: ["CLIP score", "best of batch"],
};

function addWords(defs) {
    for (const [name, words] of Object.entries(ALIASES)) {
        const def = defs?.[name];
        if (def && !(Array.isArray(def.search_aliases) && def.search_aliases.length)) def.search_aliases = [...words];
    }
}

app.registerExtension({
    name: "fillblank.searchWords",
    // the definitions as the page loads them, and again when they are refreshed (Refresh Node
    // Definitions, the R key): both reach the frontend's search index after these hooks
    addCustomNodeDefs: addWords,
    refreshComboInNodes: addWords,
});
