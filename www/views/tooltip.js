// One tooltip for every chart: shown beside the pointer or the focused element.
const tip = () => document.getElementById('tooltip');

export function showTip(html, x, y) {
  const t = tip();
  t.innerHTML = html;
  t.hidden = false;
  const w = t.offsetWidth, h = t.offsetHeight;
  t.style.left = `${Math.min(innerWidth - w - 8, x + 12)}px`;
  t.style.top = `${Math.max(8, y - h - 12)}px`;
}

export function showTipAt(el, html) {
  const r = el.getBoundingClientRect();
  showTip(html, r.right, r.top);
}

export const hideTip = () => { tip().hidden = true; };

export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

addEventListener('keydown', (e) => { if (e.key === 'Escape') hideTip(); });
