// The OTA console's page logic: plain JavaScript, no framework, no build step.
//
// Why this shape: every view is rebuilt from /api/v1 answers with DOM nodes and textContent only
// (device names, versions and reasons come from devices and are never parsed as HTML), and the
// server-sent events of /api/v1/events only trigger a debounced reload of what is on screen, so the
// page never drifts from the store however many events arrive. The token stays in sessionStorage.
'use strict';

const TASK_STATES = ['queued', 'notified', 'in_progress', 'succeeded', 'failed', 'timed_out', 'canceled'];
const FINAL_ROLLOUT = ['completed', 'canceled'];

// ---- token and live events -------------------------------------------------------------------
let events = null;

function askToken(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (events) { events.close(); events = null; }
  setLive(false, 'offline');
  if (why) say(why, 'error');
  showView('token');
}

function setLive(on, text) {
  const s = $('live-status');
  s.textContent = text;
  s.className = 'live ' + (on ? 'on' : 'off');
}

/** Opens the event stream; EventSource reconnects by itself (sending Last-Event-ID). */
function openEvents() {
  if (events) events.close();
  events = new EventSource(API + '/events' + query({ access_token: token() }));
  events.onopen = () => setLive(true, 'live');
  events.onerror = () => setLive(false, 'reconnecting');
  for (const type of ['rollout', 'task', 'firmware', 'device']) {
    events.addEventListener(type, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      onEvent(type, data);
    });
  }
}

const refreshTimers = {};
/** Reloads a view at most every `ms` milliseconds however many events arrive. */
function refreshSoon(key, ms, fn) {
  if (refreshTimers[key]) return;
  refreshTimers[key] = setTimeout(() => { delete refreshTimers[key]; fn(); }, ms);
}

function onEvent(type, data) {
  const r = route();
  if (r.view === 'rollout') {
    const id = Number(r.args[0]);
    if ((type === 'rollout' && data.id === id) || (type === 'task' && data.rollout_id === id)) {
      refreshSoon('rollout', 250, () => loadRollout(false));
    }
  } else if (r.view === 'rollouts' && (type === 'rollout')) {
    refreshSoon('rollouts', 500, loadRollouts);
  } else if (r.view === 'firmware' && (type === 'firmware' || type === 'rollout')) {
    // A verify rollout that completes marks its firmware verified (the rollout event says so).
    refreshSoon('firmware', 500, loadFirmware);
  } else if (r.view === 'devices' && (type === 'device' || type === 'task')) {
    refreshSoon('devices', 1000, () => loadDevices(false));
  } else if (r.view === 'device' && (type === 'device' || type === 'task')) {
    refreshSoon('device', 500, loadDevice);
  } else if (r.view === 'versions' && (type === 'device' || type === 'task')) {
    refreshSoon('versions', 1000, loadVersions);
  }
}

// ---- routing ---------------------------------------------------------------------------------
function route() {
  let parts;
  try {
    parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  } catch (e) {
    parts = [];  // a malformed %-escape in a hand-typed URL: show the default view
  }
  const head = parts[0] || 'firmware';
  if (head === 'rollouts' && parts.length > 1 && parts[1]) return { view: 'rollout', args: parts.slice(1) };
  if (head === 'devices' && parts.length > 2) return { view: 'device', args: parts.slice(1) };
  return { view: head, args: [] };
}

function showView(name) {
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + name;
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#/' + name);
  }
}

function render() {
  if (!token()) { showView('token'); return; }
  if (!events) openEvents();
  const r = route();
  const loaders = {
    firmware: loadFirmware, 'new-rollout': loadRolloutForm, rollouts: loadRollouts,
    rollout: () => loadRollout(true), devices: () => loadDevices(false), device: loadDevice,
    versions: loadVersions,
  };
  if (!loaders[r.view]) { location.hash = '#/firmware'; return; }
  showView(r.view);
  loaders[r.view]();
}

// ---- firmware --------------------------------------------------------------------------------
let firmware = [];      // every firmware loaded so far (for the selects and the version chart)
let firmwareCursor = null;

async function loadFirmware(more) {
  try {
    const page = await api('GET', '/firmware', { query: { limit: 100, cursor: more === true ? firmwareCursor : '' } });
    firmware = more === true ? firmware.concat(page.items) : page.items;
    firmwareCursor = page.next_cursor;
  } catch (e) { fail(e); return; }
  const body = $('fw-table').tBodies[0];
  clear(body);
  for (const f of firmware) {
    body.append(el('tr', { 'data-testid': 'fw-row-' + f.id, 'data-version': f.version },
      el('td', {}, f.id), el('td', {}, f.product_key), el('td', {}, f.module), el('td', {}, f.version),
      el('td', {}, bytes(f.size)), el('td', { class: 'mono', title: f.sha256 }, f.sha256.slice(0, 16) + '…'),
      el('td', {}, f.signed ? 'yes' : 'no'),
      el('td', { 'data-testid': 'fw-verified' }, f.verified ? 'verified' : 'not verified'),
      el('td', {}, when(f.created_at)),
      el('td', {}, el('button', { type: 'button', onclick: () => pickForVerify(f.id) }, 'Verify…'))));
  }
  $('fw-more').hidden = !firmwareCursor;
  fillFirmwareSelect($('verify-firmware'));
}

function firmwareLabel(f) {
  return '#' + f.id + ' ' + f.product_key + ' ' + f.module + ' ' + f.version + (f.verified ? ' (verified)' : '');
}

function fillFirmwareSelect(select) {
  const keep = select.value;
  clear(select);
  for (const f of firmware) select.append(el('option', { value: f.id }, firmwareLabel(f)));
  if (keep && firmware.some((f) => String(f.id) === keep)) select.value = keep;
}

function pickForVerify(id) {
  $('verify-firmware').value = String(id);
  $('verify-devices').focus();
}

async function onUpload(ev) {
  ev.preventDefault();
  const file = $('fw-file').files[0];
  if (!file) { say('choose an image file', 'error'); return; }
  const status = $('fw-upload-status');
  const params = {
    product_key: $('fw-product').value.trim(), version: $('fw-version').value.trim(),
    module: $('fw-module').value.trim(), sign_method: $('fw-sign-method').value,
  };
  $('fw-upload').disabled = true;
  status.textContent = 'uploading…';
  try {
    const f = await upload('/firmware', params, file, (p) => { status.textContent = 'uploading ' + Math.round(p * 100) + ' %'; });
    status.textContent = 'uploaded #' + f.id + ' (' + bytes(f.size) + ', sha256 ' + f.sha256.slice(0, 12) + '…)';
    status.setAttribute('data-firmware-id', f.id);
    await loadFirmware();
    $('verify-firmware').value = String(f.id);
  } catch (e) {
    status.textContent = 'failed';
    fail(e);
  } finally {
    $('fw-upload').disabled = false;
  }
}

async function onVerify(ev) {
  ev.preventDefault();
  const names = words($('verify-devices').value);
  if (names.length < 1 || names.length > 10) { say('a verify rollout takes 1 to 10 device names', 'error'); return; }
  try {
    const r = await api('POST', '/firmware/' + encodeURIComponent($('verify-firmware').value) + '/verify',
      { json: { device_names: names } });
    location.hash = '#/rollouts/' + r.id;
  } catch (e) { fail(e); }
}

// ---- the rollout form ------------------------------------------------------------------------
async function loadRolloutForm() {
  try {
    const page = await api('GET', '/firmware', { query: { limit: 1000 } });
    firmware = page.items;
  } catch (e) { fail(e); return; }
  fillFirmwareSelect($('ro-firmware'));
  if ($('ro-phases').tBodies[0].rows.length === 0) addPhase({});
  preview();
}

function addPhase(p) {
  const body = $('ro-phases').tBodies[0];
  const num = (cls, v, min, max) => el('input', { class: cls, type: 'number', min, max, value: v });
  const row = el('tr', { 'data-testid': 'ro-phase' },
    el('td', { class: 'ph-index' }),
    el('td', {}, num('ph-devices', p.devices || 0, 0)),
    el('td', {}, num('ph-percent', p.percent || 0, 0, 100)),
    el('td', {}, num('ph-success', p.success_percent === undefined ? 100 : p.success_percent, 0, 100)),
    el('td', {}, el('input', { class: 'ph-manual', type: 'checkbox' })),
    el('td', {}, num('ph-max-failures', p.max_failures || 0, 0)),
    el('td', {}, el('button', { type: 'button', onclick: () => { row.remove(); numberPhases(); } }, 'Remove')));
  body.append(row);
  numberPhases();
}

function numberPhases() {
  [...$('ro-phases').tBodies[0].rows].forEach((row, i) => { row.querySelector('.ph-index').textContent = String(i + 1); });
}

function intOf(input) { return Math.trunc(Number(input.value || 0)); }
function msOf(input) { return input.value ? new Date(input.value).getTime() : null; }

/** The POST /rollouts (and /rollouts/preview) body the form describes. */
function rolloutBody() {
  const phases = [...$('ro-phases').tBodies[0].rows].map((row) => ({
    devices: intOf(row.querySelector('.ph-devices')),
    percent: intOf(row.querySelector('.ph-percent')),
    success_percent: intOf(row.querySelector('.ph-success')),
    manual: row.querySelector('.ph-manual').checked,
    max_failures: intOf(row.querySelector('.ph-max-failures')),
  }));
  const policy = {
    push_rate_per_minute: intOf($('ro-rate')), task_timeout_s: intOf($('ro-timeout')),
    retry_count: intOf($('ro-retry-count')), retry_interval_s: intOf($('ro-retry-interval')),
    download_protocol: $('ro-download').value,
  };
  if (msOf($('ro-start-at')) !== null) policy.start_at = msOf($('ro-start-at'));
  if (msOf($('ro-end-at')) !== null) policy.end_at = msOf($('ro-end-at'));
  return {
    firmware_id: Number($('ro-firmware').value),
    name: $('ro-name').value.trim(),
    dynamic: $('ro-dynamic').checked,
    force: $('ro-force').checked,
    selection: {
      device_names: words($('ro-device-names').value),
      source_versions: words($('ro-source-versions').value),
      tag: $('ro-tag').value.trim(),
      percent: intOf($('ro-percent')),
    },
    phases,
    policy,
  };
}

let previewTimer = null;
let previewSeq = 0;
/** Asks for the live count of matching devices, 300 ms after the last change of the selection. */
function preview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(async () => {
    const out = $('ro-matching');
    if (!$('ro-firmware').value) { out.textContent = '-'; return; }
    const seq = ++previewSeq;
    try {
      const answer = await api('POST', '/rollouts/preview', { json: rolloutBody() });
      if (seq === previewSeq) { out.textContent = String(answer.matching); out.className = ''; }
    } catch (e) {
      if (seq === previewSeq) { out.textContent = e.message; out.className = 'bad'; }
    }
  }, 300);
}

async function onNamesFile() {
  const file = $('ro-names-file').files[0];
  if (!file) return;
  $('ro-device-names').value = words(await file.text()).join('\n');
  preview();
}

async function onRolloutSubmit(ev) {
  ev.preventDefault();
  try {
    const r = await api('POST', '/rollouts', { json: rolloutBody() });
    say('rollout #' + r.id + ' created', 'info');
    location.hash = '#/rollouts/' + r.id;
  } catch (e) { fail(e); }
}

// ---- rollouts --------------------------------------------------------------------------------
let rolloutsCursor = null;
let rollouts = [];

async function loadRollouts(more) {
  try {
    const page = await api('GET', '/rollouts', { query: { limit: 100, cursor: more === true ? rolloutsCursor : '' } });
    rollouts = more === true ? rollouts.concat(page.items) : page.items;
    rolloutsCursor = page.next_cursor;
  } catch (e) { fail(e); return; }
  const body = $('rollouts-table').tBodies[0];
  clear(body);
  for (const r of rollouts) {
    body.append(el('tr', { 'data-testid': 'rollout-row-' + r.id },
      el('td', {}, el('a', { href: '#/rollouts/' + r.id }, '#' + r.id)), el('td', {}, r.name),
      el('td', {}, r.kind), el('td', {}, '#' + r.firmware_id),
      el('td', { class: 'state-' + r.state }, r.state),
      el('td', {}, (r.current_phase + 1) + ' / ' + r.phases.length), el('td', {}, when(r.created_at))));
  }
  $('rollouts-more').hidden = !rolloutsCursor;
}

// The rollout view's paging and filters; `cursors` holds the pages' cursors seen so far.
const rv = { id: 0, cursor: '', next: null, data: null };

async function loadRollout(fresh) {
  const id = Number(route().args[0]);
  if (fresh || rv.id !== id) {
    if (rv.id !== id) { $('rv-filter-state').value = ''; $('rv-filter-phase').value = ''; }
    rv.id = id; rv.cursor = '';
  }
  let detail, tasks;
  try {
    [detail, tasks] = await Promise.all([
      api('GET', '/rollouts/' + id),
      api('GET', '/rollouts/' + id + '/tasks', {
        query: { state: $('rv-filter-state').value, phase: $('rv-filter-phase').value, limit: 50, cursor: rv.cursor },
      }),
    ]);
  } catch (e) { fail(e); return; }
  if (route().view !== 'rollout' || Number(route().args[0]) !== id) return;
  rv.data = detail;
  rv.next = tasks.next_cursor;
  renderRollout(detail);
  renderTasks(tasks.items);
}

function renderRollout(d) {
  const r = d.rollout;
  const c = d.counts;
  $('rv-title').textContent = 'Rollout #' + r.id + (r.name ? ': ' + r.name : '') + (r.kind === 'verify' ? ' (verify)' : '');
  const state = $('rv-state');
  state.textContent = r.state;
  state.setAttribute('data-state', r.state);
  state.className = 'state-' + r.state;
  $('rv-reason').textContent = r.reason ? '(' + r.reason + ')' : '';
  const f = d.firmware || {};
  $('rv-firmware').textContent = 'Firmware #' + r.firmware_id + ' ' + (f.product_key || '') + ' ' +
    (f.module || '') + ' ' + (f.version || '') + (f.verified ? ' (verified)' : '') +
    (r.dynamic ? ' · dynamic' : '') + ' · phase ' + (r.current_phase + 1) + ' of ' + r.phases.length;

  const active = !FINAL_ROLLOUT.includes(r.state) && r.state !== 'canceling';
  $('rv-pause').disabled = !(r.state === 'running' || r.state === 'scheduled');
  $('rv-resume').disabled = r.state !== 'paused';
  $('rv-cancel').disabled = !active;
  const failedCount = (c.by_state.failed || 0) + (c.by_state.timed_out || 0);
  $('rv-retry').disabled = failedCount === 0 || r.state === 'canceling' || r.state === 'canceled';

  const counts = $('rv-counts');
  clear(counts);
  counts.append(el('span', { class: 'count total' }, 'total ', el('b', { id: 'count-total', 'data-testid': 'count-total' }, c.total)));
  for (const s of TASK_STATES) {
    counts.append(el('span', { class: 'count state-' + s }, s.replace('_', ' ') + ' ',
      el('b', { id: 'count-' + s, 'data-testid': 'count-' + s }, c.by_state[s] || 0)));
  }

  const phases = $('rv-phases');
  clear(phases);
  const phaseSelect = $('rv-filter-phase');
  const keep = phaseSelect.value;
  clear(phaseSelect);
  phaseSelect.append(el('option', { value: '' }, 'any'));
  r.phases.forEach((p, i) => {
    phaseSelect.append(el('option', { value: i }, String(i + 1)));
    const pc = (c.phases || []).find((x) => x.phase === i) || { total: 0, by_state: {} };
    const bar = el('div', { class: 'bar' });
    for (const s of TASK_STATES) {
      const n = pc.by_state[s] || 0;
      if (n > 0 && pc.total > 0) {
        bar.append(el('span', { class: 'seg state-' + s, style: 'width:' + (100 * n / pc.total).toFixed(2) + '%', title: s + ': ' + n }));
      }
    }
    const size = p.devices ? p.devices + (p.devices === 1 ? ' device' : ' devices') : p.percent ? p.percent + ' %' : 'the rest';
    const done = pc.by_state.succeeded || 0;
    phases.append(el('div', { class: 'phase' + (i === r.current_phase ? ' current' : ''), 'data-testid': 'rv-phase-' + i },
      el('div', { class: 'phase-label' }, 'Phase ' + (i + 1) + ' (' + size + ', gate ' + p.success_percent + ' %' +
        (p.manual ? ', manual' : '') + ', max failures ' + p.max_failures + '): ' + done + ' / ' + pc.total + ' succeeded'),
      bar));
  });
  phaseSelect.value = keep;

  const reasons = $('rv-reasons');
  clear(reasons);
  const entries = Object.entries(d.failure_reasons || {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) reasons.append(el('li', { class: 'none' }, 'none'));
  for (const [reason, n] of entries) reasons.append(el('li', {}, el('b', {}, n), ' ', reason));
}

function renderTasks(items) {
  const body = $('rv-tasks').tBodies[0];
  clear(body);
  for (const t of items) {
    body.append(el('tr', { 'data-testid': 'task-row', 'data-device': t.device_name, 'data-state': t.state },
      el('td', {}, el('a', { href: '#/devices/' + encodeURIComponent(t.product_key) + '/' + encodeURIComponent(t.device_name) }, t.device_name)),
      el('td', {}, t.phase + 1), el('td', { class: 'state-' + t.state, 'data-testid': 'task-state' }, t.state),
      el('td', {}, t.attempt), el('td', {}, t.from_version), el('td', {}, t.last_step),
      el('td', {}, t.reason), el('td', {}, when(t.updated_at))));
  }
  if (items.length === 0) body.append(el('tr', {}, el('td', { colspan: 8, class: 'none' }, 'no tasks')));
  $('rv-next-page').hidden = !rv.next;
  $('rv-first-page').hidden = !rv.cursor;
}

async function rolloutAction(action) {
  try {
    await api('POST', '/rollouts/' + rv.id + '/' + action);
    say(action + ': done', 'info');
  } catch (e) { fail(e); }
  loadRollout(false);
}

// ---- devices ---------------------------------------------------------------------------------
let devicesCursor = null;
let devices = [];

async function loadDevices(more) {
  const filters = {
    product_key: $('dev-product').value.trim(), module: $('dev-module').value.trim(),
    version: $('dev-version').value.trim(), online: $('dev-online').value, tag: $('dev-tag').value.trim(),
  };
  try {
    const page = await api('GET', '/devices', { query: Object.assign(filters, { limit: 100, cursor: more === true ? devicesCursor : '' }) });
    devices = more === true ? devices.concat(page.items) : page.items;
    devicesCursor = page.next_cursor;
  } catch (e) { fail(e); return; }
  const body = $('dev-table').tBodies[0];
  clear(body);
  for (const d of devices) {
    const versions = Object.entries(d.versions || {}).map(([m, v]) => (m === 'default' ? v : m + ' ' + v)).join(', ');
    body.append(el('tr', { 'data-testid': 'dev-row', 'data-device': d.device_name },
      el('td', {}, d.product_key),
      el('td', {}, el('a', { href: '#/devices/' + encodeURIComponent(d.product_key) + '/' + encodeURIComponent(d.device_name) }, d.device_name)),
      el('td', { 'data-testid': 'dev-versions' }, versions), el('td', {}, (d.tags || []).join(', ')),
      el('td', { class: d.online ? 'online' : 'offline' }, d.online ? 'online' : 'offline'),
      el('td', {}, when(d.last_seen_at))));
  }
  if (devices.length === 0) body.append(el('tr', {}, el('td', { colspan: 6, class: 'none' }, 'no devices')));
  $('dev-more').hidden = !devicesCursor;
}

async function loadDevice() {
  const [pk, dn] = route().args;
  let d;
  try {
    d = await api('GET', '/devices/' + encodeURIComponent(pk) + '/' + encodeURIComponent(dn));
  } catch (e) { fail(e); return; }
  const dev = d.device;
  $('dv-title').textContent = 'Device ' + dev.product_key + ' / ' + dev.device_name;
  const info = $('dv-info');
  clear(info);
  const row = (k, v) => { info.append(el('dt', {}, k), el('dd', {}, v)); };
  for (const [m, v] of Object.entries(dev.versions || {})) row('Version (' + m + ')', v);
  row('Tags', (dev.tags || []).join(', ') || '-');
  row('Online', dev.online ? 'yes' : 'no');
  row('Last seen', when(dev.last_seen_at) || 'never');
  row('Registered', when(dev.created_at));
  const body = $('dv-tasks').tBodies[0];
  clear(body);
  for (const t of d.tasks) {
    body.append(el('tr', { 'data-testid': 'dv-task', 'data-state': t.state },
      el('td', {}, el('a', { href: '#/rollouts/' + t.rollout_id }, '#' + t.rollout_id)), el('td', {}, t.module),
      el('td', { class: 'state-' + t.state }, t.state), el('td', {}, t.attempt), el('td', {}, t.from_version),
      el('td', {}, t.last_step), el('td', {}, t.reason), el('td', {}, when(t.updated_at))));
  }
  if (d.tasks.length === 0) body.append(el('tr', {}, el('td', { colspan: 8, class: 'none' }, 'no tasks')));
}

// ---- version chart ---------------------------------------------------------------------------
async function loadVersions() {
  if (firmware.length === 0) {
    try { firmware = (await api('GET', '/firmware', { query: { limit: 1000 } })).items; } catch (e) { fail(e); return; }
  }
  const products = [...new Set(firmware.map((f) => f.product_key))].sort();
  const list = $('ver-products');
  clear(list);
  for (const p of products) list.append(el('option', { value: p }));
  if (!$('ver-product').value && products.length) $('ver-product').value = products[0];
  const pk = $('ver-product').value.trim();
  const chart = $('ver-chart');
  if (!pk) { clear(chart); chart.append(el('p', { class: 'none' }, 'enter a product key')); return; }
  let answer;
  try {
    answer = await api('GET', '/versions', { query: { product_key: pk, module: $('ver-module').value.trim() } });
  } catch (e) { fail(e); return; }
  drawChart(chart, answer);
}

/** A horizontal bar chart of devices per version, as inline SVG. */
function drawChart(chart, answer) {
  clear(chart);
  const entries = Object.entries(answer.versions || {}).sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
  const total = entries.reduce((s, e) => s + e[1], 0);
  chart.append(el('p', {}, answer.product_key + ' · module ' + answer.module + ' · ' + total + ' devices'));
  if (entries.length === 0) { chart.append(el('p', { class: 'none' }, 'no device has reported a version')); return; }
  const max = Math.max(...entries.map((e) => e[1]));
  const rowH = 28, labelW = 140, barW = 420, width = labelW + barW + 80;
  const root = svg('svg', { width, height: entries.length * rowH + 10, viewBox: '0 0 ' + width + ' ' + (entries.length * rowH + 10), role: 'img', 'data-testid': 'ver-svg' });
  root.append(svg('title', {}, 'Devices per version of ' + answer.product_key));
  entries.forEach(([version, n], i) => {
    const y = 5 + i * rowH;
    const w = Math.max(2, Math.round(barW * n / max));
    const g = svg('g', { 'data-version': version, 'data-count': n });
    g.append(svg('text', { x: labelW - 8, y: y + 18, 'text-anchor': 'end', class: 'label' }, version));
    g.append(svg('rect', { x: labelW, y: y + 4, width: w, height: rowH - 8, class: 'barfill' }));
    g.append(svg('text', { x: labelW + w + 6, y: y + 18, class: 'value' }, n + ' (' + Math.round(100 * n / total) + ' %)'));
    root.append(g);
  });
  chart.append(root);
}

// ---- wiring ----------------------------------------------------------------------------------
function init() {
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token-input').value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token-input').value = '';
    $('message').hidden = true;
    openEvents();
    render();
  });
  $('token-clear').addEventListener('click', () => askToken(''));
  $('fw-upload-form').addEventListener('submit', onUpload);
  $('verify-form').addEventListener('submit', onVerify);
  $('fw-more').addEventListener('click', () => loadFirmware(true));
  $('ro-form').addEventListener('submit', onRolloutSubmit);
  $('ro-form').addEventListener('input', (ev) => { if (ev.target.id !== 'ro-names-file') preview(); });
  $('ro-form').addEventListener('change', (ev) => { if (ev.target.id !== 'ro-names-file') preview(); });
  $('ro-names-file').addEventListener('change', onNamesFile);
  $('ro-add-phase').addEventListener('click', () => { addPhase({}); preview(); });
  $('rollouts-more').addEventListener('click', () => loadRollouts(true));
  for (const s of TASK_STATES) $('rv-filter-state').append(el('option', { value: s }, s));
  $('rv-filter-state').addEventListener('change', () => loadRollout(true));
  $('rv-filter-phase').addEventListener('change', () => loadRollout(true));
  $('rv-next-page').addEventListener('click', () => { rv.cursor = rv.next || ''; loadRollout(false); });
  $('rv-first-page').addEventListener('click', () => { rv.cursor = ''; loadRollout(false); });
  $('rv-pause').addEventListener('click', () => rolloutAction('pause'));
  $('rv-resume').addEventListener('click', () => rolloutAction('resume'));
  $('rv-cancel').addEventListener('click', () => rolloutAction('cancel'));
  $('rv-retry').addEventListener('click', () => rolloutAction('retry-failed'));
  $('dev-filter').addEventListener('submit', (ev) => { ev.preventDefault(); loadDevices(false); });
  $('dev-more').addEventListener('click', () => loadDevices(true));
  $('ver-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadVersions(); });
  window.addEventListener('hashchange', render);
  render();
}

init();
