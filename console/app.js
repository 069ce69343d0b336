// vmreserve's web console: one page over the HTTP API (docs/API.md), no build step.
// Safe by construction: every value reaches the page as text (text nodes, never parsed as markup);
// the token lives in this tab's sessionStorage and travels only in the Authorization header
// (no cookie, so no cross-site request can act for the user); the page's Content-Security-Policy
// allows no inline script or style.
'use strict';

const STATUSES = ['available', 'set-aside', 'checked-out', 'provisioning', 'error', 'deprovisioning'];
const PAGE_SIZE = 20;
const REFRESH_MS = 2000;

const state = {
  token: null,
  pool: '',
  admin: false,
  vmPages: [null], // the cursor of each page seen so far (null: the first)
  vmPage: 0,
  nextCursor: null,
  events: [], // the last events seen, oldest first
  eventsCursor: null, // the id of the last event seen
  refreshTimer: null,
};

const byId = (id) => document.getElementById(id);

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One API call: the envelope's data, or an APIError with the envelope's message.
async function api(method, path, body) {
  // (no token in development mode: the gateway takes tokenless requests as its admin's)
  const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const prefix = state.pool ? '/pools/' + encodeURIComponent(state.pool) : '';
  let response;
  try {
    response = await fetch(prefix + path, init);
  } catch (error) {
    throw new APIError(0, 'unreachable', 'The server cannot be reached');
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch (error) {
    envelope = null;
  }
  if (!response.ok || !envelope || envelope.status !== 'success') {
    throw new APIError(response.status, envelope && envelope.code,
                       (envelope && envelope.message) || 'The server answered HTTP ' + response.status);
  }
  return envelope.data;
}

// An element with text children (strings are always text) and properties.
function element(tag, properties, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, properties || {});
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child === null || child === undefined ? '' : String(child)));
  }
  return node;
}

function button(label, className, onClick) {
  const node = element('button', { type: 'button', className }, label);
  node.addEventListener('click', onClick);
  return node;
}

function show(id, text, failed) {
  const node = byId(id);
  node.textContent = text || '';
  node.classList.toggle('failed', Boolean(failed));
}

// The time left until `iso` as h:mm:ss or m:ss; "—" without a lease.
function timeLeft(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000));
  if (seconds === 0) return 'ending';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + s : m + ':' + s;
}

// A lease cell that counts down by itself (see tick).
function leaseCell(iso) {
  const cell = element('td', { className: 'lease' }, timeLeft(iso));
  if (iso) cell.dataset.expires = iso;
  return cell;
}

function tick() {
  for (const cell of document.querySelectorAll('td.lease[data-expires]')) {
    cell.textContent = timeLeft(cell.dataset.expires);
  }
}

function replaceRows(table, rows, columns, emptyText) {
  const body = byId(table).tBodies[0];
  body.replaceChildren(...(rows.length ? rows : [element('tr', {}, element('td', { className: 'empty', colSpan: columns }, emptyText))]));
}

function statusCell(status) {
  return element('td', { className: 'status status-' + status }, status);
}

// Each of `ids` by its first characters, as many as make it unique among them and at least 8:
// the short form the command-line client's `ls` shows too. A Map from id to short form.
function shortForms(ids) {
  const unique = [...new Set(ids)];
  let length = 8;
  while (new Set(unique.map((id) => id.slice(0, length))).size < unique.length) length += 1;
  return new Map(unique.map((id) => [id, id.slice(0, length)]));
}

// --- signing in and out

async function signIn(token, pool) {
  state.token = token;
  state.pool = pool;
  try {
    await api('GET', '/v1/vms/mine');
  } catch (error) {
    state.token = null;
    throw error.status === 401 ? new APIError(401, error.code, 'Unknown or revoked token') : error;
  }
  try {
    await api('GET', '/v1/admin/pool');
    state.admin = true;
  } catch (error) {
    if (error.status !== 403) throw error;
    state.admin = false;
  }
  sessionStorage.setItem('vmreserve.token', token);
  sessionStorage.setItem('vmreserve.pool', pool);
  byId('who').textContent = (state.admin ? 'admin' : 'user') + (pool ? ' · pool ' + pool : '');
  byId('dev-mode').hidden = token !== '';
  byId('sign-in').hidden = true;
  byId('sign-out').hidden = false;
  byId('mine').hidden = false;
  byId('admin').hidden = !state.admin;
  state.vmPages = [null];
  state.vmPage = 0;
  state.events = [];
  state.eventsCursor = null;
  await refresh();
}

function signOut() {
  sessionStorage.removeItem('vmreserve.token');
  sessionStorage.removeItem('vmreserve.pool');
  Object.assign(state, { token: null, pool: '', admin: false });
  clearTimeout(state.refreshTimer);
  byId('who').textContent = '';
  byId('dev-mode').hidden = true;
  byId('sign-out').hidden = true;
  byId('mine').hidden = true;
  byId('admin').hidden = true;
  byId('new-token').hidden = true;
  byId('sign-in').hidden = false;
  byId('token').value = '';
  show('sign-in-message', '');
}

// --- live data: everything shown is read again every REFRESH_MS

async function refresh() {
  clearTimeout(state.refreshTimer);
  if (state.token === null) return;
  try {
    await renderMine();
    if (state.admin) await Promise.all([renderPool(), renderVMs(), renderUsers(), renderEvents()]);
  } catch (error) {
    if (error.status === 401) {
      signOut();
      show('sign-in-message', 'Your token is no longer valid: sign in again', true);
      return;
    }
  }
  state.refreshTimer = setTimeout(refresh, REFRESH_MS);
}

async function renderMine() {
  const [vms, reservations] = await Promise.all([api('GET', '/v1/vms/mine'), api('GET', '/v1/reservations/mine')]);
  const short = shortForms(reservations.map((reservation) => reservation.id));
  replaceRows('my-vms', vms.map((vm) => element('tr', { className: 'vm' },
    element('td', { className: 'ip' }, vm.ip),
    element('td', { className: 'id' }, vm.vm_id),
    element('td', { className: 'reservation', title: vm.reservation_id || '' },
      (vm.reservation_id && short.get(vm.reservation_id)) || vm.reservation_id || '—'),
    statusCell(vm.status),
    leaseCell(vm.lease_expires_at),
    element('td', { className: 'actions' },
      // (a renewal without a length keeps the lease's own)
      button('Renew', 'quiet renew', () => act('mine-message', 'Renewed ' + vm.ip,
        () => api('POST', '/v1/checkouts/' + encodeURIComponent(vm.vm_id) + '/renew', {}))),
      button('Check in', 'checkin', () => act('mine-message', 'Checked in ' + vm.ip,
        () => api('POST', '/v1/checkins', { vm_id: vm.vm_id })))))), 6, 'You hold no VMs.');
  replaceRows('my-reservations', reservations.map((reservation) => {
    const path = '/v1/reservations/' + encodeURIComponent(reservation.id);
    const name = 'reservation ' + short.get(reservation.id);
    return element('tr', { className: 'reservation' },
      element('td', { className: 'id' }, reservation.id),
      element('td', { className: 'ip' }, reservation.vms.map((vm) => vm.ip).join(' ')),
      element('td', { className: 'lease-end' },
        reservation.lease_expires_at ? new Date(Date.parse(reservation.lease_expires_at)).toLocaleString() : '—'),
      leaseCell(reservation.lease_expires_at),
      element('td', { className: 'actions' },
        // (a renewal without a length keeps the reservation's own, for every VM of it)
        button('Renew', 'quiet renew', () => act('mine-message', 'Renewed ' + name, () => api('POST', path + '/renew', {}))),
        button('Return', 'return', () => act('mine-message', 'Returned ' + name, () => api('DELETE', path)))));
  }), 5, 'You hold no reservations.');
}

async function renderPool() {
  const pool = await api('GET', '/v1/admin/pool');
  const cap = Math.max(pool.max_vm_count, pool.total, 1);
  byId('gauge').replaceChildren(...STATUSES.filter((s) => pool.counts[s] > 0).map((status) => {
    const segment = element('div', { className: status, title: pool.counts[status] + ' ' + status });
    segment.style.width = (100 * pool.counts[status] / cap) + '%';
    return segment;
  }));
  byId('gauge-legend').replaceChildren(
    ...STATUSES.map((status) => element('li', {},
      element('span', { className: 'swatch ' + status }),
      element('strong', { id: 'count-' + status }, pool.counts[status] || 0), ' ' + status)),
    element('li', {}, element('strong', { id: 'count-total' }, pool.total), ' of a cap of ',
      element('strong', { id: 'count-cap' }, pool.max_vm_count)));
  const capInput = byId('cap');
  // (not over what the admin is typing, or has typed and not yet set: a redraw between the
  // button's mousedown and its click would otherwise set the old cap again)
  if (document.activeElement !== capInput && !capInput.dataset.edited) capInput.value = pool.max_vm_count;
}

async function renderVMs() {
  const filter = byId('vm-filter').value;
  const cursor = state.vmPages[state.vmPage];
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filter) query.set('status', filter);
  if (cursor) query.set('cursor', cursor);
  const page = await api('GET', '/v1/admin/vms?' + query);
  state.nextCursor = page.next_cursor;
  byId('vms-next').disabled = !page.next_cursor;
  byId('vms-first').disabled = state.vmPage === 0;
  replaceRows('vms', page.items.map((vm) => element('tr', { className: 'vm' },
    element('td', { className: 'id' }, vm.vm_id),
    element('td', { className: 'ip' }, vm.ip || '—'),
    statusCell(vm.status),
    element('td', { className: 'holder' }, vm.user || '—'),
    element('td', {}, vm.size || '—'),
    leaseCell(vm.lease_expires_at),
    element('td', { className: 'machine' }, vm.machine_id || '—'),
    element('td', { className: 'error-text' }, vm.error || ''),
    element('td', { className: 'actions' },
      ...(vm.status === 'available' || vm.status === 'error'
        ? [button('Delete', 'danger delete', () => act('admin-message', 'Deleted ' + vm.vm_id,
            () => api('DELETE', '/v1/admin/vms/' + encodeURIComponent(vm.vm_id))))]
        : [])))), 9, filter ? 'No VMs are ' + filter + '.' : 'No VMs yet.');
}

async function renderUsers() {
  const focused = document.activeElement;
  if (focused && focused.tagName === 'INPUT' && byId('users').contains(focused)) return; // a quota being typed is kept
  const users = await api('GET', '/v1/admin/users');
  replaceRows('users', users.map((user) => {
    const quota = element('input', { type: 'number', min: 0, max: 1000000, value: user.quota, className: 'quota', size: 5 });
    quota.setAttribute('aria-label', 'Quota of ' + user.name);
    const base = '/v1/admin/users/' + encodeURIComponent(user.name);
    return element('tr', { className: 'user' },
      element('td', { className: 'name' }, user.name),
      element('td', {}, user.role),
      element('td', {}, quota),
      element('td', { className: 'held' }, user.held),
      element('td', { className: 'actions' },
        button('Set quota', 'quiet set-quota', () => act('admin-message', 'Quota of ' + user.name + ' set',
          () => api('PATCH', base, { quota: Number(quota.value) }))),
        button('Rotate token', 'quiet rotate', () => act('admin-message', 'New token for ' + user.name,
          async () => showToken(await api('POST', base + '/token')))),
        button('Delete', 'danger delete', () => act('admin-message', 'Deleted ' + user.name,
          () => api('DELETE', base)))));
  }), 5, 'No users yet.');
}

// The last hour's events the first time, then only what is new since the last event seen
// (at most 5 pages of 1000 a refresh); the newest 25 are shown, newest first.
async function renderEvents() {
  for (let pages = 0; pages < 5; pages += 1) {
    const query = new URLSearchParams({ limit: '1000' });
    if (state.eventsCursor) query.set('cursor', state.eventsCursor);
    else query.set('since', new Date(Date.now() - 3600 * 1000).toISOString());
    const page = await api('GET', '/v1/admin/events?' + query);
    if (page.items.length) {
      state.events = state.events.concat(page.items).slice(-25);
      state.eventsCursor = page.items[page.items.length - 1].id;
    }
    if (!page.next_cursor) break;
  }
  replaceRows('events', state.events.slice().reverse().map((event) => element('tr', { className: 'event' },
    element('td', {}, new Date(Date.parse(event.at)).toLocaleTimeString()),
    element('td', { className: 'action' }, event.action),
    element('td', {}, event.actor),
    element('td', { className: 'id' }, event.vm_id || ''),
    element('td', { className: 'ip' }, event.ip || ''),
    element('td', {}, event.user || ''),
    element('td', {}, event.status || ''),
    element('td', { className: 'detail' }, event.detail || ''))), 8, 'Nothing happened in the last hour.');
}

function showToken(user) {
  byId('new-token-user').textContent = user.name;
  byId('new-token-value').textContent = user.token;
  byId('new-token').hidden = false;
}

// Runs an action; says `done` (a text, or a function of the action's result) or the server's
// message in `messageId`, then refreshes.
async function act(messageId, done, action) {
  show(messageId, 'Working…');
  try {
    const result = await action();
    show(messageId, typeof done === 'function' ? done(result) : done);
  } catch (error) {
    show(messageId, error.message, true);
  }
  await refresh();
}

// --- wiring

function onSubmit(id, handler) {
  byId(id).addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

document.addEventListener('DOMContentLoaded', () => {
  onSubmit('sign-in-form', async () => {
    const token = byId('token').value.trim();
    if (!token) {
      show('sign-in-message', 'Enter your token: an admin gives it to you (vmreserve admin users add), or use vmreserve login\'s', true);
      return;
    }
    show('sign-in-message', 'Signing in…');
    try {
      await signIn(token, byId('pool').value.trim());
      byId('token').value = '';
    } catch (error) {
      show('sign-in-message', error.message, true);
    }
  });
  byId('sign-out').addEventListener('click', signOut);
  onSubmit('checkout-form', () => {
    const count = Number(byId('checkout-count').value) || 1;
    const wait = Number(byId('checkout-wait').value) || 0;
    const lease = byId('checkout-lease').value;
    const size = byId('checkout-size').value.trim();
    // one VM: a checkout; several: one reservation, all of them or none
    const [path, body, done] = count > 1
      ? ['/v1/reservations', { vms: [size ? { size, count } : { count }] },
         (reservation) => 'Reserved ' + reservation.vms.map((vm) => vm.ip).join(', ')]
      : ['/v1/checkouts', size ? { size } : {}, (vm) => 'Checked out ' + vm.ip];
    if (lease) body.lease_seconds = Number(lease);
    act('mine-message', done, () => {
      if (wait > 0) show('mine-message', 'Waiting up to ' + wait + ' s for ' + (count > 1 ? count + ' VMs' : 'a VM') + '…');
      return api('POST', path + (wait > 0 ? '?wait=' + wait : ''), body);
    });
  });
  byId('cap').addEventListener('input', () => { byId('cap').dataset.edited = 'yes'; });
  onSubmit('cap-form', () => act('admin-message', 'Cap set', async () => {
    const pool = await api('PUT', '/v1/admin/pool', { max_vm_count: Number(byId('cap').value) });
    delete byId('cap').dataset.edited;
    return pool;
  }));
  onSubmit('create-form', () => act('admin-message', 'Created', () => api('POST', '/v1/admin/vms', { count: Number(byId('create-count').value) })));
  onSubmit('user-form', () => act('admin-message', 'User added', async () => {
    showToken(await api('POST', '/v1/admin/users', {
      name: byId('user-name').value.trim(), quota: Number(byId('user-quota').value), role: byId('user-role').value,
    }));
    byId('user-name').value = '';
  }));
  byId('vm-filter').addEventListener('change', () => {
    state.vmPages = [null];
    state.vmPage = 0;
    refresh();
  });
  byId('vms-first').addEventListener('click', () => {
    state.vmPage = 0;
    refresh();
  });
  byId('vms-next').addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.vmPages[state.vmPage + 1] = state.nextCursor;
    state.vmPage += 1;
    refresh();
  });
  setInterval(tick, 1000);
  const token = sessionStorage.getItem('vmreserve.token');
  if (token) {
    signIn(token, sessionStorage.getItem('vmreserve.pool') || '').catch(() => signOut());
  } else {
    // a gateway in development mode answers without a token: sign in as its admin, and say so
    signIn('', '').catch(() => signOut());
  }
});
