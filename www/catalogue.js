// The criteria and the default assets, from the same files the engine and the CLI read
// (src/catalogue.json, src/manifest.json).
import catalogueFile from '../src/catalogue.json' with { type: 'json' };
import manifestFile from '../src/manifest.json' with { type: 'json' };
import alphaFile from '../classifiers/alpha-star.json' with { type: 'json' };

/** @typedef {{ id: string, name: string, label: string, scale: string, color: string, needs_calibration: boolean, metric: boolean, prunes_first: string, source: string }} CriterionInfo */

/** @type {CriterionInfo[]} */
export const CATALOGUE = catalogueFile.criteria;
export const CRITERIA = CATALOGUE.map((c) => c.id);
/** The criteria with a per-head value to colour the grid by. */
export const METRICS = CATALOGUE.filter((c) => c.metric).map((c) => c.id);
/** @param {string} id */
export const criterion = (id) => CATALOGUE.find((c) => c.id === id);

export const MANIFEST = manifestFile;

/** α* that `hies alpha-sweep --record` chose for a built-in model and HIS preset with global
 *  min-max, as the CLI's default `--alpha` (else 0.5, also with min-max per layer). */
export const alphaStar = (/** @type {string} */ model, /** @type {string} */ preset, perLayer = false) =>
  (perLayer ? undefined : alphaFile.models?.[model]?.[preset]?.alpha_star) ?? 0.5;

/** Fills a <select> with catalogue entries. */
export function fillSelect(select, ids) {
  select.replaceChildren(...ids.map((id) => new Option(criterion(id).label, id)));
}
