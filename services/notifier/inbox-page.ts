/**
 * The buyer inbox as server-rendered HTML. Every piece of product, member or buyer text goes
 * through escapeHtml; photos only load from https or the notifier's own /blobs route; the page's
 * script is served from /inbox.js so the Content-Security-Policy can forbid inline scripts.
 */
import type { AlertAction } from '../../shared/contracts/events.ts';
import type { Card, CardState } from './inbox-state.ts';
import {
  adviceText,
  cardAnchor,
  changeText,
  escapeHtml,
  factRows,
  formatTime,
  photoSrc,
  productTitle,
  sparklineSvg,
} from './present.ts';

export interface InboxPageOptions {
  buyers: Array<{ id: string; name: string }>;
  buyer?: string;
  /** The buyer's IANA zone: every time on the page is written in it (default UTC). */
  timeZone?: string;
  now: Date;
  /** Shown instead of the cards (e.g. an unknown buyer id). */
  error?: string;
}

const SECTIONS: Array<{ state: CardState; title: string }> = [
  { state: 'open', title: 'Needs attention' },
  { state: 'acknowledged', title: 'Acknowledged' },
  { state: 'snoozed', title: 'Snoozed' },
  { state: 'ordered', title: 'Ordered' },
  { state: 'cooled', title: 'Cooled down' },
];

const STATE_LABEL: Record<CardState, string> = {
  open: 'Open',
  acknowledged: 'Acknowledged',
  snoozed: 'Snoozed',
  ordered: 'Ordered',
  cooled: 'Cooled',
};

function describeAction(action: AlertAction, names: ReadonlyMap<string, string>, zone?: string): string {
  const time = (iso: string) => formatTime(iso, zone);
  const who = escapeHtml(names.get(action.buyer) ?? action.buyer);
  const when = escapeHtml(time(action.at));
  switch (action.action) {
    case 'acknowledge':
      return `Acknowledged by ${who} · ${when}`;
    case 'snooze':
      return `Snoozed by ${who} until ${escapeHtml(time(action.snoozeUntil ?? action.at))}`;
    case 'ordered':
      return `Ordered${action.quantity ? ` ${action.quantity} units` : ''} by ${who} · ${when}`;
  }
}

function renderCard(
  card: Card,
  canAct: boolean,
  names: ReadonlyMap<string, string>,
  options: InboxPageOptions,
): string {
  const { alert } = card;
  const zone = options.timeZone;
  const context = { history: card.history, ...(zone ? { timeZone: zone } : {}) };
  // Relative to the page, so the inbox works behind a path-prefixed proxy.
  const photos = alert.photos
    .slice(0, 4)
    .map((photo) => photoSrc(photo.imageUrl)?.replace(/^\/blobs\//, 'blobs/'))
    .filter((src) => src !== undefined)
    .map(
      (src) =>
        `<img class="photo" src="${escapeHtml(src)}" alt="member photo of ${escapeHtml(productTitle(alert))}" loading="lazy">`,
    )
    .join('');
  const cls: Record<string, string> = {
    'Stock on hand': 'stock',
    'Days of cover': 'cover',
    'Suggested reorder quantity': 'quantity',
    'Reorder for usual demand': 'quantity',
  };
  const stats = factRows(alert, context).filter(([label]) => label !== 'Regions');
  const regions = alert.topRegions
    .map(
      (r) =>
        `<li><span>${escapeHtml(r.country)}</span><span class="bar" style="--share:${Math.round(r.share * 100)}%"></span><span>${Math.round(r.share * 100)}%</span></li>`,
    )
    .join('');
  const off = canAct ? '' : ' disabled';
  // An ended episode asks for nothing: no order to place, nothing to snooze.
  const actionsHtml =
    card.state === 'ordered' || card.state === 'cooled'
      ? ''
      : `<form class="actions" data-alert-id="${escapeHtml(alert.alertId)}">
      <button type="button" data-action="acknowledge"${card.state === 'acknowledged' ? ' disabled' : off}>Acknowledge</button>
      <button type="button" data-action="snooze"${off}>Snooze 1 day</button>
      <label>Qty <input type="number" name="quantity" min="1" value="${escapeHtml(alert.suggestedReorderQty || '')}"${off}></label>
      <button type="button" data-action="ordered" class="primary"${off}>Mark as ordered</button>
    </form>`;
  const change = changeText(alert, context);
  const order = card.lastOrder;
  const reopened =
    order && card.state !== 'ordered' && card.state !== 'cooled'
      ? `<p class="decision">${describeAction(order, names, zone)} — escalated since: now suggests ${escapeHtml(alert.suggestedReorderQty ?? 'no quantity')}</p>`
      : '';
  return `<article class="card state-${card.state}" id="${cardAnchor(alert.episodeId)}" data-alert-id="${escapeHtml(alert.alertId)}" data-state="${card.state}">
  <header>
    <span class="priority ${escapeHtml(alert.priority)}">${escapeHtml(alert.priority)}</span>
    <span class="status">${escapeHtml(alert.status)}</span>
    <span class="state">${STATE_LABEL[card.state]}</span>
  </header>
  <h3>${escapeHtml(productTitle(alert))}</h3>
  <p class="meta">SKU ${escapeHtml(alert.sku)} · ${escapeHtml(alert.product.category ?? 'uncategorised')}${alert.product.colour ? ` · ${escapeHtml(alert.product.colour)}` : ''} · raised ${escapeHtml(formatTime(alert.raisedAt, zone))}</p>
  ${change ? `<p class="change">${escapeHtml(change)}</p>` : ''}
  <p class="advice">${escapeHtml(adviceText(alert))}</p>
  <div class="photos">${photos || '<p class="muted">No photos</p>'}</div>
  <figure class="trend">${sparklineSvg(
    alert.series.map((p) => p.weightedCount),
    { width: 300, height: 64 },
  )}<figcaption>Weighted signals, last ${alert.series.length} windows</figcaption></figure>
  <dl class="stats">${stats.map(([k, v]) => `<div${cls[k] ? ` class="${cls[k]}"` : ''}><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>
  <ul class="regions">${regions || '<li class="muted">No regional breakdown</li>'}</ul>
  ${card.decisive ? `<p class="decision">${describeAction(card.decisive, names, zone)}</p>` : ''}
  ${reopened}
  ${actionsHtml}
</article>`;
}

export function renderInboxPage(cards: Card[], options: InboxPageOptions): string {
  const buyerOptions = [
    `<option value="">All buyers</option>`,
    ...options.buyers.map(
      (b) =>
        `<option value="${escapeHtml(b.id)}"${b.id === options.buyer ? ' selected' : ''}>${escapeHtml(b.name)}</option>`,
    ),
  ].join('');
  // Actions are recorded under a buyer's name, so the page asks who is acting first.
  const names = new Map(options.buyers.map((b) => [b.id, b.name]));
  const canAct = options.buyer !== undefined && options.buyers.some((b) => b.id === options.buyer);
  const sections = SECTIONS.map(({ state, title }) => {
    const inSection = cards.filter((c) => c.state === state);
    if (inSection.length === 0 && state !== 'open') return '';
    return `<section class="group" data-section="${state}">
  <h2>${title} <span class="count">${inSection.length}</span></h2>
  ${inSection.length === 0 ? '<p class="muted">Nothing needs your attention right now.</p>' : `<div class="grid">${inSection.map((card) => renderCard(card, canAct, names, options)).join('\n')}</div>`}
</section>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trend Radar · Buyer inbox</title>
<link rel="stylesheet" href="inbox.css">
<script src="inbox.js" defer></script>
</head>
<body data-buyer="${escapeHtml(options.buyer ?? '')}">
<header class="top">
  <h1>Trend Radar <span>Buyer inbox</span></h1>
  <form method="get" class="who"><label>Buyer <select name="buyer">${buyerOptions}</select></label><noscript><button>Show</button></noscript></form>
</header>
<main>
${options.error ? `<p class="error-page" role="alert">${escapeHtml(options.error)}</p>` : `${canAct ? '' : '<p class="hint">Pick your name above to acknowledge, snooze or order.</p>'}\n${sections}`}
</main>
<p class="error" role="alert" hidden></p>
</body>
</html>`;
}

export const INBOX_CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 "Helvetica Neue",Helvetica,Arial,sans-serif;color:#1d1b19;background:#f6f4f1}
.top{display:flex;justify-content:space-between;align-items:center;padding:14px 28px;background:#1d1b19;color:#fff}
.top h1{font-size:20px;margin:0;letter-spacing:.04em}.top h1 span{font-weight:300;opacity:.7;margin-left:8px}
.top select{font-size:14px;padding:4px 6px;margin-left:6px}
main{padding:20px 28px;max-width:1400px}
.group h2{font-size:16px;text-transform:uppercase;letter-spacing:.08em;color:#6b6660;margin:18px 0 10px}
.count{background:#e4e0da;border-radius:10px;padding:1px 8px;font-size:13px;color:#1d1b19}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}
.card{background:#fff;border:1px solid #e4e0da;border-radius:12px;padding:16px;box-shadow:0 1px 2px #0000000d}
.card.state-acknowledged,.card.state-snoozed{opacity:.85}.card.state-ordered,.card.state-cooled{opacity:.7}
.card header{display:flex;gap:6px;align-items:center;font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.priority{color:#fff;background:#6b6660;border-radius:4px;padding:1px 6px;font-weight:700}.priority.P1{background:#b3122e}.priority.P2{background:#d9822b}
.status{color:#6b6660}.state{margin-left:auto;font-weight:700}
.card h3{margin:8px 0 2px;font-size:17px}.meta{margin:0 0 10px;color:#6b6660;font-size:13px}
.photos{display:flex;gap:6px;overflow-x:auto}.photo{width:96px;height:120px;object-fit:cover;border-radius:8px;background:#eee}
.trend{margin:10px 0 4px}.trend svg{width:100%;height:64px}.trend figcaption{font-size:11px;color:#9a948d}
.stats{display:grid;grid-template-columns:repeat(3,1fr);gap:6px 12px;margin:6px 0}
.stats div{margin:0}.stats dt{font-size:11px;color:#6b6660;text-transform:uppercase;letter-spacing:.05em}.stats dd{margin:0;font-size:18px;font-weight:600}
.regions{list-style:none;padding:0;margin:8px 0;font-size:13px}
.regions li{display:grid;grid-template-columns:32px 1fr 40px;gap:6px;align-items:center}
.bar{height:6px;border-radius:3px;background:linear-gradient(90deg,#b3122e var(--share),#eee var(--share))}
.decision{background:#f0f7f1;border-radius:6px;padding:6px 8px;font-size:13px;color:#25613a}
.actions{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-top:10px}
.actions button{border:1px solid #1d1b19;background:#fff;border-radius:6px;padding:6px 10px;cursor:pointer;font-size:13px}
.actions button.primary{background:#1d1b19;color:#fff}.actions button:disabled{opacity:.4;cursor:default}
.actions input{width:70px;padding:4px}.actions label{font-size:13px;color:#6b6660}
.change{font-weight:600;font-size:13px;margin:4px 0}.advice{font-size:13px;margin:4px 0}
.error-page{background:#fde8eb;border:1px solid #b3122e;border-radius:8px;padding:8px 12px}
.hint{background:#fff8e6;border:1px solid #f0dca8;border-radius:8px;padding:8px 12px}
.muted{color:#9a948d}.error{position:fixed;bottom:16px;right:16px;background:#b3122e;color:#fff;padding:10px 14px;border-radius:8px}
`;

/** Posts an action as JSON, then reloads so the page shows the state the server recorded. */
export const INBOX_JS = `
document.querySelector('.who select')?.addEventListener('change', (event) => event.target.form.submit());
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const form = button.closest('form[data-alert-id]');
  const action = button.dataset.action;
  const body = { alertId: form.dataset.alertId, action, buyer: document.body.dataset.buyer };
  if (action === 'snooze') body.snoozeHours = 24;
  if (action === 'ordered') {
    const quantity = Number(form.querySelector('input[name=quantity]').value);
    if (quantity > 0) body.quantity = quantity;
  }
  form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
  const response = await fetch('api/actions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.ok) { location.reload(); return; }
  const error = document.querySelector('.error');
  error.textContent = 'Could not record the action: ' + ((await response.json().catch(() => ({}))).error || response.status);
  error.hidden = false;
  form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
});
`;
