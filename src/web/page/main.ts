/// <reference lib="dom" />
// raptor's web page: plain DOM code over the /api/v1 API (docs/web.md). Every text from the server
// goes in through textContent, never as HTML. Bundled by scripts/build.mjs with xterm.js.
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import type { VmInfo } from '../../service/vm.ts';

interface Me {
  user: string;
  groups: string[];
  admin: boolean;
}
// the `vm list --json` shape, as the service defines it (a type only: nothing of the service is bundled)
type Vm = Omit<VmInfo, 'emulatorCpuset' | 'createdAt' | 'adoptedAt' | 'seed'>;
interface PlanStep {
  kind: string;
  title: string;
  commands: string[];
}
interface CreatePlan {
  vm: string;
  allocation: { cpuset: number[]; bridge: string | null; mac: string | null; volume: string };
  steps: PlanStep[];
  xml: string;
}
type ProgressEvent =
  | { type: 'step'; status: string; title: string; index: number; count: number }
  | { type: 'bytes'; phase: string; done: number; total: number };
interface Operation {
  id: string;
  status: 'running' | 'succeeded' | 'failed';
  events: ProgressEvent[];
  error: { message: string } | null;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: init.body !== undefined ? { 'content-type': 'application/json' } : {},
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const doc = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new ApiError(res.status, doc.error?.message ?? `${res.status} ${res.statusText}`);
  return doc as T;
}

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Host CPUs as ranges: 2-3,6. */
function cpuList(cpus: number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',') || '—';
}

function expiresText(iso: string | null): string {
  if (!iso) return '';
  const ms = Date.parse(iso) - Date.now();
  const when = new Date(iso).toLocaleString();
  if (ms <= 0) return `expired ${when}`;
  const hours = ms / 3600_000;
  return `${hours < 48 ? `in ${Math.max(1, Math.round(hours))} h` : `in ${Math.round(hours / 24)} d`} (${when})`;
}

const stateClass = (s: string) => (s === 'running' ? 'ok' : s === 'shut off' ? 'off' : s === 'paused' || s === 'in shutdown' ? 'warn' : s === 'crashed' ? 'bad' : 'off');

// ---- the shell ------------------------------------------------------------------------------------

let me: Me;
const app = byId<HTMLDivElement>('app');

function toast(message: string, kind: 'ok' | 'bad' = 'bad'): void {
  const box = byId<HTMLDivElement>('toasts');
  const t = h('div', { class: `toast ${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'bad' ? 8000 : 4000);
}

function signedOut(): void {
  app.replaceChildren(
    h(
      'main',
      { class: 'signin' },
      h('h1', {}, 'raptor'),
      h('p', {}, 'You are not signed in. On the host, run'),
      h('pre', {}, 'raptor web login'),
      h('p', {}, 'and open the one-time link it prints (within five minutes). Scripts use a token from raptor web token.'),
    ),
  );
}

const views = ['vms', 'create', 'users', 'host'] as const;
type View = (typeof views)[number];
const viewTitles: Record<View, string> = { vms: 'Machines', create: 'Create', users: 'Users', host: 'Host check' };

function show(view: View): void {
  for (const v of views) {
    const section = document.getElementById(`view-${v}`);
    if (section) section.hidden = v !== view;
    const tab = document.getElementById(`tab-${v}`);
    tab?.setAttribute('aria-current', v === view ? 'page' : 'false');
  }
  if (view === 'users') void loadUsers();
  if (view === 'host') void loadHostCheck();
  history.replaceState(null, '', `#${view}`);
}

function shell(): void {
  const tabs = (me.admin ? views : (['vms'] as const)).map((v) => {
    const b = h('button', { type: 'button', id: `tab-${v}`, class: 'tab' }, viewTitles[v]);
    b.addEventListener('click', () => show(v));
    return b;
  });
  const signOut = h('button', { type: 'button', class: 'quiet' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    await api('/api/v1/logout', { method: 'POST' }).catch(() => undefined);
    signedOut();
  });
  app.replaceChildren(
    h(
      'header',
      { class: 'bar' },
      h('span', { class: 'brand' }, 'raptor'),
      h('nav', { 'aria-label': 'Views' }, ...tabs),
      h('span', { class: 'who' }, h('span', { id: 'who-user' }, me.user), me.admin ? h('span', { class: 'badge' }, 'admin') : null, signOut),
    ),
    h(
      'main',
      {},
      h(
        'section',
        { id: 'view-vms', 'aria-labelledby': 'vms-title' },
        h('div', { class: 'head' }, h('h1', { id: 'vms-title' }, me.admin ? 'All machines' : 'Your machines'), h('span', { id: 'vms-meta', class: 'meta', 'aria-live': 'polite' }, '')),
        h(
          'table',
          { class: 'vms', id: 'vms' },
          h(
            'thead',
            {},
            h('tr', {}, ...['Name', 'State', 'vCPUs · host CPUs', 'Memory', 'Disk', 'Network', 'FQDN', 'Image', 'Expires', 'Actions'].map((t) => h('th', { scope: 'col' }, t))),
          ),
          h('tbody', { id: 'vms-body' }),
        ),
        h('p', { id: 'vms-empty', class: 'empty', hidden: true }, me.admin ? 'No machines on this host yet.' : 'You have no machines yet: an admin creates them for you.'),
        h('section', { id: 'console', class: 'console', hidden: true, 'aria-labelledby': 'console-title' }),
      ),
      me.admin ? createView() : null,
      me.admin ? h('section', { id: 'view-users', hidden: true }, h('div', { class: 'head' }, h('h1', {}, 'Users')), h('div', { id: 'users-body' })) : null,
      me.admin
        ? h(
            'section',
            { id: 'view-host', hidden: true },
            h('div', { class: 'head' }, h('h1', {}, 'Host check'), h('button', { type: 'button', id: 'host-rerun', class: 'quiet' }, 'Run again')),
            h('div', { id: 'host-body' }),
          )
        : null,
    ),
    h('div', { id: 'toasts', class: 'toasts' }),
    destroyDialog(),
  );
  document.getElementById('host-rerun')?.addEventListener('click', () => void loadHostCheck());
  const initial = location.hash.slice(1) as View;
  show(me.admin && views.includes(initial) ? initial : 'vms');
}

// ---- the machine list -------------------------------------------------------------------------

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<string, HTMLTableCellElement>;
  buttons: Record<'start' | 'stop' | 'reboot' | 'console' | 'destroy', HTMLButtonElement | undefined>;
}
const rows = new Map<string, Row>();
let lastVms: Vm[] = [];
const busy = new Set<string>();

async function power(vm: string, verb: 'start' | 'stop' | 'reboot'): Promise<void> {
  busy.add(vm);
  renderVms(lastVms);
  try {
    const r = await api<{ result: string }>(`/api/v1/vms/${encodeURIComponent(vm)}/${verb}`, { method: 'POST', body: {} });
    toast(`${vm}: ${r.result}`, 'ok');
  } catch (err) {
    toast(`${vm}: ${(err as Error).message}`);
  } finally {
    busy.delete(vm);
    await refresh();
  }
}

function makeRow(vm: Vm): Row {
  const cells: Record<string, HTMLTableCellElement> = {};
  const labels = ['name', 'state', 'cpus', 'memory', 'disk', 'network', 'fqdn', 'image', 'expires'];
  const titles = ['Name', 'State', 'vCPUs · host CPUs', 'Memory', 'Disk', 'Network', 'FQDN', 'Image', 'Expires'];
  labels.forEach((l, i) => (cells[l] = h(i === 0 ? 'th' : 'td', { 'data-label': titles[i], class: `c-${l}`, ...(i === 0 ? { scope: 'row' } : {}) }) as HTMLTableCellElement));
  const button = (verb: string, label: string, cls = '') => {
    const b = h('button', { type: 'button', class: `act ${cls}`, 'aria-label': `${label} ${vm.name}` }, label);
    return b;
  };
  const buttons: Row['buttons'] = {
    start: button('start', 'Start'),
    stop: button('stop', 'Stop'),
    reboot: button('reboot', 'Reboot'),
    console: button('console', 'Console', 'primary'),
    destroy: me.admin && vm.managed ? button('destroy', 'Destroy', 'danger') : undefined,
  };
  buttons.start!.addEventListener('click', () => void power(vm.name, 'start'));
  buttons.stop!.addEventListener('click', () => void power(vm.name, 'stop'));
  buttons.reboot!.addEventListener('click', () => void power(vm.name, 'reboot'));
  buttons.console!.addEventListener('click', () => openConsole(vm.name));
  buttons.destroy?.addEventListener('click', () => askDestroy(vm.name));
  const actions = h('td', { 'data-label': 'Actions', class: 'c-actions' }, h('div', { class: 'actions' }, ...Object.values(buttons).filter((b): b is HTMLButtonElement => b !== undefined)));
  const tr = h('tr', { 'data-vm': vm.name }, ...labels.map((l) => cells[l]!), actions);
  return { tr, cells, buttons };
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function updateRow(row: Row, vm: Vm): void {
  const c = row.cells;
  setText(c.name!, vm.name);
  if (!vm.managed) c.name!.append(h('span', { class: 'note' }, ' unmanaged'));
  const badge = c.state!.firstElementChild as HTMLElement | null;
  const cls = `state ${stateClass(vm.state)}`;
  if (!badge) c.state!.append(h('span', { class: cls }, vm.state));
  else {
    setText(badge, vm.state);
    if (badge.className !== cls) badge.className = cls;
  }
  setText(c.cpus!, `${vm.vcpus} · ${cpuList(vm.cpuset)}`);
  setText(c.memory!, `${vm.memoryMiB} MiB`);
  setText(c.disk!, formatBytes(vm.disk?.sizeBytes));
  c.disk!.title = vm.disk?.path ?? '';
  const net = vm.network ? [vm.network.bridge, vm.network.ipv4, vm.network.ipv6].filter(Boolean).join('\n') : 'no network';
  setText(c.network!, net);
  setText(c.fqdn!, vm.fqdn ?? '—');
  setText(c.image!, [vm.image, vm.flavor].filter(Boolean).join(' · ') || '—');
  setText(c.expires!, expiresText(vm.expires) || '—');
  const running = vm.state === 'running';
  const isBusy = busy.has(vm.name);
  row.buttons.start!.disabled = isBusy || running;
  row.buttons.stop!.disabled = isBusy || vm.state === 'shut off';
  row.buttons.reboot!.disabled = isBusy || !running;
  row.buttons.console!.disabled = !running;
  if (row.buttons.destroy) row.buttons.destroy.disabled = isBusy;
}

function renderVms(vms: Vm[]): void {
  lastVms = vms;
  const body = byId<HTMLTableSectionElement>('vms-body');
  const seen = new Set<string>();
  let prev: Element | null = null;
  for (const vm of vms) {
    seen.add(vm.name);
    let row = rows.get(vm.name);
    if (!row) {
      row = makeRow(vm);
      rows.set(vm.name, row);
    }
    updateRow(row, vm);
    // move a row only when the order changed: moving a focused button would lose the keyboard's place
    const want: Element | null = prev ? prev.nextElementSibling : body.firstElementChild;
    if (want !== row.tr) body.insertBefore(row.tr, want);
    prev = row.tr;
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.tr.remove();
      rows.delete(name);
    }
  }
  byId('vms-empty').hidden = vms.length > 0;
  const running = vms.filter((v) => v.state === 'running').length;
  setText(byId('vms-meta'), `${vms.length} machine${vms.length === 1 ? '' : 's'}, ${running} running · updated ${new Date().toLocaleTimeString()}`);
}

async function refresh(): Promise<void> {
  try {
    renderVms(await api<Vm[]>('/api/v1/vms'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signedOut();
    setText(byId('vms-meta'), `could not refresh: ${(err as Error).message}`);
  }
}

// ---- the console ------------------------------------------------------------------------------

let consoleState: { vm: string; term: Terminal; ws: WebSocket; onResize: () => void } | undefined;

const termTheme = () =>
  matchMedia('(prefers-color-scheme: dark)').matches
    ? { background: '#0d1117', foreground: '#d6dde6', cursor: '#7cc4ff', selectionBackground: '#2b4a6b' }
    : { background: '#fbfcfd', foreground: '#1c2430', cursor: '#0b63c5', selectionBackground: '#cfe3ff' };

function closeConsole(): void {
  if (!consoleState) return;
  consoleState.ws.close(1000, 'closed');
  consoleState.term.dispose();
  removeEventListener('resize', consoleState.onResize);
  const vm = consoleState.vm;
  consoleState = undefined;
  const panel = byId('console');
  panel.hidden = true;
  panel.replaceChildren();
  rows.get(vm)?.buttons.console?.focus();
}

function openConsole(vm: string): void {
  closeConsole();
  const panel = byId('console');
  const status = h('span', { class: 'meta', id: 'console-status', 'aria-live': 'polite' }, 'connecting…');
  const closeBtn = h('button', { type: 'button', class: 'quiet', id: 'console-close' }, 'Close');
  const reconnect = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Reconnect');
  const screen = h('div', { class: 'term', id: 'console-term' });
  panel.replaceChildren(
    h('div', { class: 'head' }, h('h2', { id: 'console-title' }, `Console · ${vm}`), status, h('span', { class: 'spacer' }), reconnect, closeBtn),
    screen,
    h('p', { class: 'hint' }, 'Shared with everyone viewing this machine. Shift+Esc leaves the terminal for the keyboard.'),
  );
  panel.hidden = false;
  const term = new Terminal({ cursorBlink: true, fontSize: innerWidth < 640 ? 11 : 13, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace', scrollback: 5000, theme: termTheme() });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  term.attachCustomKeyEventHandler((e) => {
    if (e.type === 'keydown' && e.key === 'Escape' && e.shiftKey) {
      closeBtn.focus();
      return false;
    }
    return true;
  });
  const encoder = new TextEncoder();
  const connect = (): WebSocket => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/vms/${encodeURIComponent(vm)}/console`);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => {
      status.textContent = 'connected';
      status.className = 'meta ok';
      reconnect.hidden = true;
      term.focus();
    });
    ws.addEventListener('message', (e) => term.write(new Uint8Array(e.data as ArrayBuffer)));
    ws.addEventListener('close', (e) => {
      if (consoleState?.ws !== ws) return;
      status.textContent = e.code === 1000 || e.code === 1001 ? `closed${e.reason ? `: ${e.reason}` : ''}` : `disconnected (${e.reason || e.code})`;
      status.className = 'meta bad';
      reconnect.hidden = false;
    });
    return ws;
  };
  const onResize = () => fit.fit();
  addEventListener('resize', onResize);
  consoleState = { vm, term, ws: connect(), onResize };
  term.onData((d) => consoleState?.ws.readyState === WebSocket.OPEN && consoleState.ws.send(encoder.encode(d)));
  term.onBinary((d) => consoleState?.ws.readyState === WebSocket.OPEN && consoleState.ws.send(Uint8Array.from(d, (ch) => ch.charCodeAt(0))));
  closeBtn.addEventListener('click', closeConsole);
  reconnect.addEventListener('click', () => {
    if (!consoleState) return;
    status.textContent = 'connecting…';
    status.className = 'meta';
    consoleState.ws = connect();
  });
  panel.scrollIntoView({ block: 'nearest' });
}

// ---- create (admins) --------------------------------------------------------------------------

function field(label: string, input: HTMLElement, help?: string): HTMLElement {
  const id = input.id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, help ? h('small', { id: `${id}-help` }, help) : null);
}

function createView(): HTMLElement {
  const input = (id: string, attrs: Record<string, string | boolean> = {}) => h('input', { id, name: id, ...attrs, ...(attrs['aria-describedby'] ? {} : { 'aria-describedby': `${id}-help` }) });
  const form = h(
    'form',
    { id: 'create-form', class: 'grid', novalidate: true },
    field('Machine', input('c-id', { required: true, placeholder: 'alice-web', autocomplete: 'off', spellcheck: 'false' }), 'user-name: the owner’s account, then a name'),
    field('vCPUs', input('c-cpus', { type: 'number', min: '1', max: '64', value: '1', inputmode: 'numeric' }), 'each pinned to its own host CPU'),
    field('Memory', input('c-memory', { value: '512M', spellcheck: 'false' }), 'as on the command line: 512M, 2G'),
    field('Disk', input('c-disk', { value: '1G', spellcheck: 'false' }), 'a new LVM volume: 1G, 20G'),
    field('Image', input('c-image', { placeholder: 'none', spellcheck: 'false' }), 'a catalogue name (raptor image list); empty: a blank disk'),
    field('Bridge', input('c-bridge', { placeholder: 'next free', spellcheck: 'false' }), 'empty: the next free bridge'),
    field('Expires', input('c-expires', { placeholder: 'never', spellcheck: 'false' }), 'a date or a duration: 7d, 2026-12-31'),
    field('SSH keys', h('textarea', { id: 'c-keys', name: 'c-keys', rows: '3', spellcheck: 'false', 'aria-describedby': 'c-keys-help', placeholder: 'ssh-ed25519 AAAA… user@laptop' }), 'one public key a line: the owner’s account gets them'),
    h(
      'div',
      { class: 'field checks' },
      h('label', {}, h('input', { type: 'checkbox', id: 'c-nonet' }), ' No network'),
      h('label', {}, h('input', { type: 'checkbox', id: 'c-start', checked: true }), ' Start it'),
    ),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'primary', id: 'c-plan' }, 'Show plan')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void planCreate();
  });
  return h(
    'section',
    { id: 'view-create', hidden: true },
    h('div', { class: 'head' }, h('h1', {}, 'Create a machine'), h('span', { class: 'meta' }, 'nothing changes until you confirm the plan')),
    form,
    h('section', { id: 'plan', class: 'plan', hidden: true, 'aria-labelledby': 'plan-title' }),
  );
}

function createBody(): Record<string, unknown> {
  const val = (id: string) => (byId<HTMLInputElement>(id).value ?? '').trim();
  const body: Record<string, unknown> = { id: val('c-id'), cpus: Number(val('c-cpus')), memory: val('c-memory'), disk: val('c-disk'), start: byId<HTMLInputElement>('c-start').checked };
  if (val('c-image')) body.image = val('c-image');
  if (byId<HTMLInputElement>('c-nonet').checked) body.network = false;
  else if (val('c-bridge')) body.bridge = val('c-bridge');
  if (val('c-expires')) body.expires = val('c-expires');
  const keys = byId<HTMLTextAreaElement>('c-keys')
    .value.split('\n')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length) body.sshKeys = keys;
  return body;
}

async function planCreate(): Promise<void> {
  const panel = byId('plan');
  const body = createBody();
  const planBtn = byId<HTMLButtonElement>('c-plan');
  planBtn.disabled = true;
  try {
    const plan = await api<CreatePlan>('/api/v1/vms', { method: 'POST', body: { ...body, dryRun: true } });
    const create = h('button', { type: 'button', class: 'primary', id: 'plan-create' }, `Create ${plan.vm}`);
    const cancel = h('button', { type: 'button', class: 'quiet' }, 'Change');
    const progress = h('div', { class: 'progress', id: 'create-progress', hidden: true });
    panel.replaceChildren(
      h('div', { class: 'head' }, h('h2', { id: 'plan-title' }, `Plan for ${plan.vm}`), h('span', { class: 'meta' }, `${plan.steps.length} steps`)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Host CPUs'),
        h('dd', {}, cpuList(plan.allocation.cpuset)),
        h('dt', {}, 'Bridge'),
        h('dd', {}, plan.allocation.bridge ? `${plan.allocation.bridge} (${plan.allocation.mac})` : 'no network'),
        h('dt', {}, 'Volume'),
        h('dd', {}, plan.allocation.volume),
      ),
      h('ol', { class: 'steps' }, ...plan.steps.map((s) => h('li', {}, h('span', {}, s.title), ...s.commands.map((c) => h('code', {}, c))))),
      h('details', { open: true }, h('summary', {}, 'Domain XML'), h('pre', { class: 'xml', tabindex: '0' }, plan.xml)),
      h('div', { class: 'buttons' }, create, cancel),
      progress,
    );
    panel.hidden = false;
    create.focus();
    cancel.addEventListener('click', () => {
      panel.hidden = true;
      byId('c-id').focus();
    });
    create.addEventListener('click', async () => {
      create.disabled = true;
      cancel.disabled = true;
      try {
        const { operation } = await api<{ operation: string }>('/api/v1/vms', { method: 'POST', body });
        const op = await follow(operation, progress);
        if (op.status === 'succeeded') {
          toast(`${plan.vm} created`, 'ok');
          await refresh();
          show('vms');
          rows.get(plan.vm)?.tr.classList.add('fresh');
          rows.get(plan.vm)?.buttons.console?.focus();
          panel.hidden = true;
        } else toast(`${plan.vm}: ${op.error?.message ?? 'failed'}`);
      } catch (err) {
        toast((err as Error).message);
      } finally {
        create.disabled = false;
        cancel.disabled = false;
      }
    });
  } catch (err) {
    panel.hidden = false;
    panel.replaceChildren(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  } finally {
    planBtn.disabled = false;
  }
}

/** Follow an operation, drawing its steps and byte counts into `box`, until it ends. */
async function follow(url: string, box: HTMLElement): Promise<Operation> {
  box.hidden = false;
  const bar = h('progress', { max: '1', value: '0', 'aria-label': 'progress' });
  const label = h('span', { class: 'meta', 'aria-live': 'polite' }, 'starting…');
  box.replaceChildren(label, bar);
  for (;;) {
    const op = await api<Operation>(url);
    const lastStep = [...op.events].reverse().find((e) => e.type === 'step') as Extract<ProgressEvent, { type: 'step' }> | undefined;
    const lastBytes = op.events.at(-1)?.type === 'bytes' ? (op.events.at(-1) as Extract<ProgressEvent, { type: 'bytes' }>) : undefined;
    if (lastBytes && lastBytes.total > 0) {
      bar.max = lastBytes.total;
      bar.value = lastBytes.done;
      label.textContent = `${lastBytes.phase === 'wipe' ? 'zeroing the disk' : lastBytes.phase}: ${formatBytes(lastBytes.done)} of ${formatBytes(lastBytes.total)} (${Math.floor((100 * lastBytes.done) / lastBytes.total)}%)`;
    } else if (lastStep) {
      // a plan's length known: a bar of steps; else the bar only says something is running
      if (lastStep.count > 1) {
        bar.max = lastStep.count;
        bar.value = lastStep.index + (lastStep.status === 'started' ? 0 : 1);
        label.textContent = `step ${lastStep.index + 1} of ${lastStep.count}: ${lastStep.title}`;
      } else {
        bar.removeAttribute('value');
        label.textContent = lastStep.title;
      }
    }
    if (op.status !== 'running') {
      bar.value = bar.max;
      label.textContent = op.status === 'succeeded' ? 'done' : `failed: ${op.error?.message ?? ''}`;
      return op;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

// ---- destroy (admins) -------------------------------------------------------------------------

function destroyDialog(): HTMLDialogElement {
  const input = h('input', { id: 'd-confirm', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'd-text' });
  const go = h('button', { type: 'submit', class: 'danger', id: 'd-go', disabled: true }, 'Destroy');
  const cancel = h('button', { type: 'button', class: 'quiet', id: 'd-cancel' }, 'Cancel');
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', { id: 'd-title' }, 'Destroy'),
    h('p', { id: 'd-text' }, ''),
    h('label', { for: 'd-confirm' }, 'Type the machine’s name to confirm'),
    input,
    h('div', { class: 'progress', id: 'd-progress', hidden: true }),
    h('div', { class: 'buttons' }, go, cancel),
  );
  const dialog = h('dialog', { id: 'destroy', 'aria-labelledby': 'd-title' }, form);
  input.addEventListener('input', () => (go.disabled = input.value !== dialog.dataset.vm));
  cancel.addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const vm = dialog.dataset.vm!;
    if (input.value !== vm) return;
    go.disabled = true;
    input.disabled = true;
    try {
      const { operation } = await api<{ operation: string }>(`/api/v1/vms/${encodeURIComponent(vm)}`, { method: 'DELETE' });
      const op = await follow(operation, byId('d-progress'));
      if (op.status === 'succeeded') {
        toast(`${vm} destroyed`, 'ok');
        setTimeout(() => dialog.close(), 800);
      } else toast(`${vm}: ${op.error?.message ?? 'failed'}`);
    } catch (err) {
      toast(`${vm}: ${(err as Error).message}`);
    } finally {
      input.disabled = false;
      cancel.disabled = false;
      await refresh();
    }
  });
  return dialog;
}

function askDestroy(vm: string): void {
  const dialog = byId<HTMLDialogElement>('destroy');
  dialog.dataset.vm = vm;
  byId('d-title').textContent = `Destroy ${vm}`;
  byId('d-text').textContent = `This stops ${vm}, zeroes its disk and removes its definition, volume and DNS records. It cannot be undone.`;
  const input = byId<HTMLInputElement>('d-confirm');
  input.value = '';
  input.placeholder = vm;
  byId<HTMLButtonElement>('d-go').disabled = true;
  byId('d-progress').hidden = true;
  dialog.showModal();
  input.focus();
}

// ---- users and host check (admins) --------------------------------------------------------------

async function loadUsers(): Promise<void> {
  const box = byId('users-body');
  try {
    const users = await api<{ user: string; uid: number; vms: string[]; use?: { vcpus: number; memoryBytes: number; diskBytes: number }; quota?: { vms: number | null } }[]>('/api/v1/users');
    if (!users.length) return void box.replaceChildren(h('p', { class: 'empty' }, 'No one is in the user group yet (raptor user add).'));
    box.replaceChildren(
      h(
        'table',
        { class: 'plain' },
        h('thead', {}, h('tr', {}, ...['User', 'uid', 'Machines', 'vCPUs', 'Memory', 'Disk'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          ...users.map((u) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row', 'data-label': 'User' }, u.user),
              h('td', { 'data-label': 'uid' }, String(u.uid)),
              h('td', { 'data-label': 'Machines' }, u.vms.join(', ') || '—', u.quota?.vms != null ? h('span', { class: 'note' }, ` (quota ${u.quota.vms})`) : null),
              h('td', { 'data-label': 'vCPUs' }, String(u.use?.vcpus ?? 0)),
              h('td', { 'data-label': 'Memory' }, formatBytes(u.use?.memoryBytes ?? 0)),
              h('td', { 'data-label': 'Disk' }, formatBytes(u.use?.diskBytes ?? 0)),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  }
}

async function loadHostCheck(): Promise<void> {
  const box = byId('host-body');
  box.replaceChildren(h('p', { class: 'meta' }, 'checking…'));
  try {
    const lines = await api<{ check: string; ok: boolean; detail: string; fix: string | null }[]>('/api/v1/host/check');
    const bad = lines.filter((l) => !l.ok).length;
    // what needs fixing first
    lines.sort((a, b) => Number(a.ok) - Number(b.ok));
    box.replaceChildren(
      h('p', { class: bad ? 'summary bad' : 'summary ok' }, bad ? `${bad} of ${lines.length} checks failed` : `all ${lines.length} checks passed`),
      h(
        'ul',
        { class: 'checks' },
        ...lines.map((l) => h('li', { class: l.ok ? 'ok' : 'bad' }, h('span', { class: 'mark', 'aria-label': l.ok ? 'ok' : 'failed' }, l.ok ? '✓' : '✗'), h('b', {}, l.check), h('span', {}, l.detail), l.fix ? h('code', {}, l.fix) : null)),
      ),
    );
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
  }
}

// ---- start --------------------------------------------------------------------------------------

const POLL_MS = 3000;

async function main(): Promise<void> {
  try {
    me = await api<Me>('/api/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signedOut();
    app.replaceChildren(h('p', { class: 'error', role: 'alert' }, (err as Error).message));
    return;
  }
  shell();
  await refresh();
  // live state: poll while the page is visible, at once when it comes back
  setInterval(() => {
    if (document.visibilityState === 'visible' && me) void refresh();
  }, POLL_MS);
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && void refresh());
}

void main();
