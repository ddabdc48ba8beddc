/** The hash of the default assets, from vite.config.js: names the Cache API cache. */
declare const __ASSET_VERSION__: string;
