/** The hash of the default assets, from vite.config.js: names the Cache API cache. */
declare const __ASSET_VERSION__: string;

/** The page's engine and state, for tests and the console (www/main.js). */
interface Window {
  hies: any;
}
