// The memory explorer: a framework-free page over the service's /v1 API. The tenant key lives in sessionStorage only
// and travels as a bearer token; the URL carries the view (a hash route), never the key. Every text from the API is
// put into the page as text (no innerHTML), so a memory cannot inject markup.
'use strict';

const KEY = 'memoryservice.explorer.key';
const PAGE = 25;
const KIND_ORDER = ['preference', 'fact', 'event', 'knowledge'];
const KIND_TITLE = { preference: 'Preferences', fact: 'Facts', event: 'Events', knowledge: 'Knowledge' };
const PARTS = ['similarity', 'keyword', 'recency', 'importance', 'activation', 'context', 'graph'];

// ---- small DOM helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'text') el.textContent = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);
const when = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '');
const num = (x, digits = 2) => (typeof x === 'number' ? x.toFixed(digits) : '');
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// ---- the API ----

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function key() { return sessionStorage.getItem(KEY); }

async function api(method, path, { body, headers } = {}) {
  const init = { method, headers: { Accept: 'application/json, application/problem+json', ...headers }, cache: 'no-store' };
  if (key()) init.headers.Authorization = `Bearer ${key()}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { title: 'The service did not answer', detail: String(e.message || e) });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const problem = data && typeof data === 'object' ? data : { title: response.statusText || 'Error', detail: text.slice(0, 500) };
    problem.status = problem.status || response.status;
    throw new ApiError(response.status, problem);
  }
  return { data, etag: response.headers.get('ETag') };
}

const userPath = (userId) => `/v1/users/${encodeURIComponent(userId)}`;

// ---- problem details, readably ----

const EXPLAIN = {
  0: 'The service could not be reached.',
  401: 'The key was not accepted: check that it is a tenant API key of this service.',
  403: 'This key may not do that.',
  404: 'Not found: it may have been deleted.',
  412: 'Someone changed this memory since you opened it, so your edit was not saved. Reload it and edit again.',
  413: 'Too large for the service.',
  422: 'The service could not do that with this input.',
  429: 'Too many requests: wait a moment and retry.',
  503: 'A dependency of the service is unavailable; retry shortly.',
};

function problemView(error, heading) {
  const p = error.problem || { title: String(error.message || error) };
  const status = p.status || error.status;
  const fields = p.errors && typeof p.errors === 'object' ? Object.entries(p.errors) : [];
  return h('div', { class: 'problem', role: 'alert', 'data-status': status },
    h('p', { class: 'problem-title' }, h('strong', {}, heading || p.title || 'Error'), status ? ` (HTTP ${status})` : ''),
    EXPLAIN[status] ? h('p', { class: 'problem-explain' }, EXPLAIN[status]) : null,
    p.detail ? h('p', { class: 'problem-detail' }, p.detail) : null,
    fields.length ? h('ul', { class: 'problem-fields' }, fields.map(([f, msgs]) => h('li', {}, h('code', {}, f), ': ', [].concat(msgs).join(' ')))) : null,
    p.trace_id ? h('p', { class: 'trace' }, 'Trace id: ', h('code', { class: 'trace-id' }, p.trace_id)) : null);
}

function showProblem(error, slot = $('#problem')) {
  slot.replaceChildren(problemView(error));
  if (error.status === 401) signOut(error);
}

function clearProblem() { $('#problem').replaceChildren(); }

// Runs an action, turning any failure into a readable problem in the page.
async function guard(action, slot) {
  try { return await action(); } catch (e) { if (e instanceof ApiError) showProblem(e, slot); else throw e; }
  return undefined;
}

// ---- sign in ----

async function signIn(event) {
  event.preventDefault();
  const input = $('#api-key');
  const slot = $('#sign-in-error');
  slot.replaceChildren();
  sessionStorage.setItem(KEY, input.value.trim());
  try {
    await api('GET', '/v1/users?limit=1');
  } catch (e) {
    sessionStorage.removeItem(KEY);
    slot.replaceChildren(problemView(e, e.status === 401 ? 'Sign-in failed: the key was refused' : 'Sign-in failed'));
    input.focus();
    return;
  }
  input.value = '';
  if (!location.hash || location.hash === '#/') location.hash = '#/users';
  route();
}

function signOut(error) {
  sessionStorage.removeItem(KEY);
  $('#view').replaceChildren();
  route();
  if (error) $('#sign-in-error').replaceChildren(problemView(error, 'Signed out: the key was refused'));
}

// ---- routing ----

function route() {
  const signedIn = !!key();
  $('#sign-in').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  if (!signedIn) { $('#view').replaceChildren(); $('#api-key').focus(); return; }
  clearProblem();
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, arg] = path.split('/').map(decodeURIComponent);
  for (const link of document.querySelectorAll('[data-nav]'))
    link.toggleAttribute('aria-current', link.dataset.nav === (name || 'users'));
  if (name === 'users' && arg) return userView(arg);
  if (name === 'why') return whyView(new URLSearchParams(query || '').get('user') || '');
  if (name === 'knowledge') return ownerView(null);
  return usersView();
}

function render(title, ...content) {
  const view = $('#view');
  const heading = h('h2', { id: 'view-title', tabindex: '-1' }, title);
  view.replaceChildren(heading, ...content);
  view.setAttribute('aria-labelledby', 'view-title');
  document.title = `${title} · Memory explorer`;
  heading.focus();
}

// ---- users ----

function usersView() {
  const state = { q: '', cursors: [null] };
  const searchId = nextId('user-search');
  const table = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });
  const form = h('form', { class: 'row', role: 'search', onsubmit: (e) => { e.preventDefault(); state.q = $('input', form).value.trim(); state.cursors = [null]; load(); } },
    h('label', { for: searchId }, 'Find a user'),
    h('input', { id: searchId, type: 'search', placeholder: 'part of a user id', maxlength: 128 }),
    h('button', { type: 'submit' }, 'Search'));

  async function load() {
    const cursor = state.cursors[state.cursors.length - 1];
    const qs = new URLSearchParams({ limit: PAGE });
    if (state.q) qs.set('q', state.q);
    if (cursor) qs.set('cursor', cursor);
    const result = await guard(() => api('GET', `/v1/users?${qs}`));
    if (!result) return;
    const users = result.data.items;
    table.replaceChildren(users.length === 0
      ? h('p', { class: 'empty' }, state.q ? `No user id contains “${state.q}”.` : 'No users yet.')
      : h('table', { class: 'users' },
        h('caption', {}, state.q ? `Users whose id contains “${state.q}”` : 'Users'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col', class: 'n' }, 'Current memories'),
          h('th', { scope: 'col', class: 'n' }, 'All memories'), h('th', { scope: 'col' }, 'Since'))),
        h('tbody', {}, users.map((u) => h('tr', { 'data-user': u.user_id },
          h('th', { scope: 'row' }, h('a', { href: `#/users/${encodeURIComponent(u.user_id)}` }, u.user_id)),
          h('td', { class: 'n' }, u.current_memory_count), h('td', { class: 'n' }, u.memory_count), h('td', {}, when(u.created_at)))))));
    pager.replaceChildren(
      h('button', { type: 'button', disabled: state.cursors.length === 1, onclick: () => { state.cursors.pop(); load(); } }, 'Previous page'),
      h('span', {}, `Page ${state.cursors.length}`),
      h('button', { type: 'button', disabled: !result.data.next_cursor, onclick: () => { state.cursors.push(result.data.next_cursor); load(); } }, 'Next page'));
  }

  render('Users', form, table, pager);
  load();
}

// ---- one owner's memories: a user, or the tenant's knowledge (userId null) ----

function base(userId) { return userId === null ? '/v1/knowledge' : `${userPath(userId)}/memories`; }

function userView(userId) { ownerView(userId); }

function ownerView(userId) {
  const isKnowledge = userId === null;
  const state = { superseded: false, archived: false, items: [], cursor: null };
  const list = h('div', { class: 'groups' });
  const more = h('div', { class: 'pager' });
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const toggleId = nextId('superseded');
  const archivedId = nextId('archived');

  const tools = h('div', { class: 'row tools' },
    h('input', { id: toggleId, type: 'checkbox', onchange: (e) => { state.superseded = e.target.checked; reload(); } }),
    h('label', { for: toggleId }, 'Show superseded'),
    h('input', { id: archivedId, type: 'checkbox', onchange: (e) => { state.archived = e.target.checked; reload(); } }),
    h('label', { for: archivedId }, 'Show archived'),
    isKnowledge ? null : h('a', { class: 'button', href: `#/why?user=${encodeURIComponent(userId)}` }, 'Why…'),
    isKnowledge ? null : h('button', { type: 'button', onclick: exportUser }, 'Export'),
    isKnowledge ? null : h('button', { type: 'button', class: 'danger', onclick: () => eraseConfirm() }, 'Erase user…'));
  const confirmSlot = h('div');

  async function exportUser() {
    const result = await guard(() => api('GET', `${userPath(userId)}/export`));
    if (!result) return;
    const blob = new Blob([JSON.stringify(result.data, null, 2)], { type: 'application/json' });
    const link = h('a', { href: URL.createObjectURL(blob), download: `${userId}-export.json` });
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = `Exported ${result.data.memories.length} memories and ${result.data.history.length} history events.`;
  }

  function eraseConfirm() {
    const inputId = nextId('erase-confirm');
    const input = h('input', { id: inputId, type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const go = h('button', { type: 'button', class: 'danger', disabled: true, onclick: erase }, 'Erase permanently');
    input.addEventListener('input', () => { go.disabled = input.value !== userId; });
    confirmSlot.replaceChildren(h('div', { class: 'confirm', role: 'group', 'aria-labelledby': `${inputId}-title` },
      h('p', { id: `${inputId}-title` }, h('strong', {}, 'Erase this user completely?'),
        ' Every memory, its history and the user itself are deleted. This cannot be undone; export first if you need a copy.'),
      h('label', { for: inputId }, `Type the user id (${userId}) to confirm`), input,
      h('div', { class: 'row' }, go, h('button', { type: 'button', onclick: () => confirmSlot.replaceChildren() }, 'Cancel'))));
    input.focus();
  }

  async function erase() {
    const done = await guard(() => api('DELETE', userPath(userId)));
    if (done === undefined) return;
    location.hash = '#/users';
  }

  async function reload() { state.items = []; state.cursor = null; await load(); }

  async function load() {
    const qs = new URLSearchParams({ limit: 100 });
    if (state.superseded) qs.set('include_superseded', 'true');
    if (state.archived) qs.set('include_archived', 'true');
    if (state.cursor) qs.set('cursor', state.cursor);
    const result = await guard(() => api('GET', `${base(userId)}?${qs}`));
    if (!result) return;
    state.items.push(...result.data.items);
    state.cursor = result.data.next_cursor;
    draw();
  }

  function draw() {
    const groups = new Map();
    for (const m of state.items) {
      if (!groups.has(m.kind)) groups.set(m.kind, []);
      groups.get(m.kind).push(m);
    }
    const kinds = [...groups.keys()].sort((a, b) => KIND_ORDER.indexOf(a) - KIND_ORDER.indexOf(b));
    list.replaceChildren(...(kinds.length === 0 ? [h('p', { class: 'empty' }, 'No memories.')] : kinds.map((kind) =>
      h('section', { class: 'group', 'aria-labelledby': `group-${kind}` },
        h('h3', { id: `group-${kind}` }, `${KIND_TITLE[kind] || kind} (${groups.get(kind).length})`),
        groups.get(kind).map((m) => memoryCard(m, userId, { onChange: reload, status }))))));
    more.replaceChildren(state.cursor ? h('button', { type: 'button', onclick: load }, 'Load more') : '');
    status.textContent = `${state.items.length} memories shown.`;
  }

  render(isKnowledge ? 'App knowledge' : `User ${userId}`, tools, confirmSlot, status, list, more);
  load();
}

// A memory as a card: what it says, its numbers and dates, and its actions (history, edit, delete).
function memoryCard(m, userId, { onChange, status }) {
  const superseded = !!m.valid_to;
  const card = h('article', { class: `memory${superseded ? ' superseded' : ''}`, 'data-id': m.id, 'data-version': m.version, 'aria-label': m.content.slice(0, 80) });
  const detail = h('div', { class: 'detail' });
  const badges = [
    superseded ? h('span', { class: 'badge' }, 'superseded') : null,
    typeof m.status === 'string' && m.status !== 'active' ? h('span', { class: 'badge' }, m.status) : null,
    m.pinned === true ? h('span', { class: 'badge pinned' }, 'pinned') : null,
    m.expires_at ? h('span', { class: 'badge' }, `expires ${when(m.expires_at)}`) : null,
  ];
  const facts = [
    ['Importance', h('span', {}, bar(m.importance, 'importance'), num(m.importance))],
    ['Confidence', h('span', {}, bar(m.confidence, 'confidence'), num(m.confidence))],
    m.key ? ['Key', h('code', {}, m.key)] : null,
    m.tags && m.tags.length ? ['Tags', h('span', { class: 'tags' }, m.tags.map((t) => h('span', { class: 'tag' }, t)))] : null,
    ['Source', m.source],
    ['Observed', when(m.observed_at)],
    ['Created', when(m.created_at)],
    m.updated_at !== m.created_at ? ['Updated', when(m.updated_at)] : null,
    superseded ? ['Superseded', `${when(m.valid_to)}${m.superseded_by ? ` by ${m.superseded_by}` : ''}`] : null,
    ['Version', m.version],
  ].filter(Boolean);

  card.append(
    h('p', { class: 'content' }, m.content, ' ', badges),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
    h('div', { class: 'row actions' },
      h('button', { type: 'button', 'data-action': 'history', onclick: () => history() }, 'History'),
      h('button', { type: 'button', 'data-action': 'edit', onclick: () => edit() }, 'Edit'),
      m.status === 'archived' ? h('button', { type: 'button', 'data-action': 'restore', onclick: () => restore() }, 'Restore') : null,
      h('button', { type: 'button', 'data-action': 'delete', class: 'danger', onclick: () => confirmDelete() }, 'Delete')),
    detail);

  async function history() {
    const result = await guard(() => api('GET', `${base(userId)}/${m.id}/history`), detail);
    if (!result) return;
    detail.replaceChildren(h('h4', {}, 'History'), timeline(result.data.items, m));
  }

  function edit() {
    const ids = { content: nextId('content'), importance: nextId('importance'), tags: nextId('tags'), pinned: nextId('pinned') };
    const slot = h('div', { class: 'problem-slot', 'aria-live': 'assertive' });
    const form = h('form', { class: 'edit', onsubmit: save },
      h('label', { for: ids.content }, 'Content'),
      h('textarea', { id: ids.content, name: 'content', rows: 3, required: true }, m.content),
      h('label', { for: ids.importance }, 'Importance (0 to 1)'),
      h('input', { id: ids.importance, name: 'importance', type: 'number', min: 0, max: 1, step: 0.05, value: m.importance }),
      h('label', { for: ids.tags }, 'Tags (comma-separated)'),
      h('input', { id: ids.tags, name: 'tags', type: 'text', value: (m.tags || []).join(', ') }),
      // Pinning exists only where the service reports it.
      typeof m.pinned === 'boolean' ? h('div', { class: 'row' }, h('input', { id: ids.pinned, name: 'pinned', type: 'checkbox', checked: m.pinned }),
        h('label', { for: ids.pinned }, 'Pinned')) : null,
      h('p', { class: 'hint' }, `Saved only if the memory is still at version ${m.version} (If-Match "${m.version}").`),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', onclick: () => detail.replaceChildren() }, 'Cancel')),
      slot);
    detail.replaceChildren(form);
    $('textarea', form).focus();

    async function save(event) {
      event.preventDefault();
      const patch = {};
      const content = form.elements.content.value;
      const importance = Number(form.elements.importance.value);
      const tags = form.elements.tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (content !== m.content) patch.content = content;
      if (importance !== m.importance) patch.importance = importance;
      if (tags.join('\u0000') !== (m.tags || []).join('\u0000')) patch.tags = tags;
      if (form.elements.pinned && form.elements.pinned.checked !== m.pinned) patch.pinned = form.elements.pinned.checked;
      if (Object.keys(patch).length === 0) { detail.replaceChildren(); return; }
      slot.replaceChildren();
      const result = await guard(() => api('PATCH', `${base(userId)}/${m.id}`, { body: patch, headers: { 'If-Match': `"${m.version}"` } }), slot);
      if (!result) {
        if (slot.querySelector('[data-status="412"]'))
          slot.append(h('button', { type: 'button', onclick: onChange }, 'Reload memories'));
        return;
      }
      status.textContent = `Saved: now version ${result.data.version}.`;
      onChange();
    }
  }

  async function restore() {
    const done = await guard(() => api('POST', `${base(userId)}/${m.id}/restore`), detail);
    if (done === undefined) return;
    status.textContent = 'Restored: served in search and context again.';
    onChange();
  }

  function confirmDelete() {
    const slot = h('div', { class: 'problem-slot', 'aria-live': 'assertive' });
    const yes = h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete');
    detail.replaceChildren(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
      h('p', {}, 'Delete this memory? Its history keeps a record of the deletion.'),
      h('div', { class: 'row' }, yes, h('button', { type: 'button', onclick: () => detail.replaceChildren() }, 'Cancel')), slot));
    yes.focus();

    async function remove() {
      const done = await guard(() => api('DELETE', `${base(userId)}/${m.id}`, { headers: { 'If-Match': `"${m.version}"` } }), slot);
      if (done === undefined) return;
      status.textContent = 'Deleted.';
      onChange();
    }
  }

  return card;
}

// The history as a timeline; events the page does not know (merged, feedback, restored, ...) show their fields as they come.
const KNOWN_EVENT_FIELDS = new Set(['id', 'memory_id', 'event', 'old_content', 'new_content', 'changed_at', 'actor']);

function timeline(events, memory) {
  return h('ol', { class: 'timeline' }, events.map((e) => {
    const extra = Object.entries(e).filter(([k, v]) => !KNOWN_EVENT_FIELDS.has(k) && v !== null && v !== undefined);
    return h('li', { class: `event event-${e.event}`, 'data-event': e.event },
      h('p', {}, h('strong', { class: 'event-name' }, e.event), ' ', h('time', { datetime: e.changed_at }, when(e.changed_at)),
        e.actor ? h('span', { class: 'actor' }, ` by key ${e.actor}`) : null),
      e.event === 'superseded' && memory.superseded_by ? h('p', { class: 'by' }, `Superseded by memory ${memory.superseded_by}`) : null,
      e.old_content && e.old_content !== e.new_content ? h('p', { class: 'old' }, h('span', { class: 'label' }, 'Before: '), h('del', {}, e.old_content)) : null,
      e.new_content ? h('p', { class: 'new' }, h('span', { class: 'label' }, e.old_content ? 'After: ' : 'Content: '), e.new_content) : null,
      extra.length ? h('dl', { class: 'facts' }, extra.map(([k, v]) => h('div', {}, h('dt', {}, k.replace(/_/g, ' ')), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))))) : null);
  }));
}

// A horizontal bar for a value in [0, 1]; the number beside it is the accessible reading.
function bar(value, name) {
  const v = typeof value === 'number' ? Math.max(0, Math.min(1, value)) : 0;
  const fill = h('span', { class: 'fill' });
  fill.style.width = `${(v * 100).toFixed(1)}%`;
  return h('span', { class: 'bar', 'data-part': name, 'data-value': value, 'aria-hidden': 'true' }, fill);
}

// ---- why: search with explain, and the context preview ----

function whyView(initialUser) {
  const ids = { user: nextId('why-user'), query: nextId('why-query'), scope: nextId('why-scope'), cquery: nextId('ctx-query'), budget: nextId('ctx-budget') };
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const context = h('div', { class: 'context', 'aria-live': 'polite' });
  const userInput = h('input', { id: ids.user, type: 'text', value: initialUser, spellcheck: 'false', required: true });

  const scope = h('select', { id: ids.scope },
    h('option', { value: 'user' }, 'This user (and app knowledge)'),
    h('option', { value: 'user-only' }, 'This user only'),
    h('option', { value: 'knowledge' }, 'App knowledge only'));

  const searchForm = h('form', { class: 'stack', role: 'search', onsubmit: search },
    h('h3', {}, 'Search, explained'),
    h('label', { for: ids.query }, 'Query'),
    h('input', { id: ids.query, type: 'search', required: true, maxlength: 2000 }),
    h('label', { for: ids.scope }, 'Search in'), scope,
    h('button', { type: 'submit' }, 'Search'));

  const contextForm = h('form', { class: 'stack', onsubmit: build },
    h('h3', {}, 'Context preview'),
    h('label', { for: ids.cquery }, 'Conversation topic (query)'),
    h('input', { id: ids.cquery, type: 'text', maxlength: 2000 }),
    h('label', { for: ids.budget }, 'Token budget'),
    h('input', { id: ids.budget, type: 'number', min: 1, max: 100000, value: 800, required: true }),
    h('button', { type: 'submit' }, 'Build context'));

  async function search(event) {
    event.preventDefault();
    const query = $(`#${ids.query}`).value;
    const where = scope.value;
    const path = where === 'knowledge' ? '/v1/knowledge/search' : `${userPath(userInput.value.trim())}/memories/search`;
    const body = { query, limit: 10, explain: true };
    if (where === 'user-only') body.include_knowledge = false;
    results.replaceChildren();
    const result = await guard(() => api('POST', path, { body }), results);
    if (!result) return;
    const hits = result.data.items;
    results.replaceChildren(hits.length === 0 ? h('p', { class: 'empty' }, 'Nothing matched.') : h('ol', { class: 'hits' }, hits.map((hit) =>
      h('li', { class: 'hit', 'data-id': hit.memory.id },
        h('p', { class: 'content' }, hit.memory.content, ' ', h('span', { class: 'badge' }, hit.memory.kind)),
        h('p', { class: 'score' }, 'Score ', h('strong', { class: 'score-value' }, num(hit.score, 3))),
        hit.explain ? h('table', { class: 'parts' },
          h('caption', { class: 'sr-only' }, 'Score components, each from 0 to 1'),
          h('tbody', {}, PARTS.filter((p) => p in hit.explain).map((p) => h('tr', { 'data-part': p },
            h('th', { scope: 'row' }, p), h('td', { class: 'bar-cell' }, bar(hit.explain[p], p)), h('td', { class: 'n part-value' }, num(hit.explain[p], 3)))))) : null))));
  }

  async function build(event) {
    event.preventDefault();
    const query = $(`#${ids.cquery}`).value.trim();
    const budget = Number($(`#${ids.budget}`).value);
    const body = { token_budget: budget };
    if (query) body.query = query;
    context.replaceChildren();
    const result = await guard(() => api('POST', `${userPath(userInput.value.trim())}/context`, { body }), context);
    if (!result) return;
    const c = result.data;
    const content = new Map();
    for (const section of c.sections || []) for (const item of section.items) content.set(item.id, item.content);
    const gauge = h('span', { class: 'bar budget' }, h('span', { class: 'fill' }));
    gauge.firstChild.style.width = `${Math.min(100, (c.token_count / c.token_budget) * 100).toFixed(1)}%`;
    context.replaceChildren(
      h('p', { class: 'tokens' }, h('strong', { class: 'token-count' }, c.token_count), ' of ', h('span', { class: 'token-budget' }, c.token_budget),
        ' tokens used ', gauge),
      h('h4', {}, 'System prompt, exactly as built'),
      h('pre', { class: 'prompt', tabindex: 0 }, c.system_prompt),
      h('h4', {}, `Included (${c.memories.length})`),
      c.memories.length === 0 ? h('p', { class: 'empty' }, 'No memory made it in.') : h('ul', { class: 'included' }, c.memories.map((m) =>
        h('li', { 'data-id': m.id }, h('span', { class: 'badge' }, m.section), ' ', content.get(m.id) || m.id, ' ', h('span', { class: 'muted' }, `score ${num(m.score, 3)}`)))),
      h('h4', {}, Array.isArray(c.dropped) ? `Dropped for the budget (${c.dropped.length})` : 'Dropped'),
      !Array.isArray(c.dropped) ? h('p', { class: 'muted' }, 'This service does not report dropped memories.')
        : c.dropped.length === 0 ? h('p', { class: 'empty' }, 'Nothing was dropped.')
          : h('ul', { class: 'dropped' }, c.dropped.map((m) => h('li', { 'data-id': m.id }, h('span', { class: 'badge' }, m.section), ' ', m.content, ' ',
            h('span', { class: 'muted' }, `score ${num(m.score, 3)}`)))));
  }

  render('Why', h('div', { class: 'stack narrow' }, h('label', { for: ids.user }, 'User id'), userInput),
    h('div', { class: 'columns' }, h('div', {}, searchForm, results), h('div', {}, contextForm, context)));
}

// ---- start ----

document.addEventListener('DOMContentLoaded', () => {
  $('#sign-in-form').addEventListener('submit', signIn);
  $('#sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', route);
  route();
});
