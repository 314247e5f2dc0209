import { accountPage } from './account.js';
import { apiFor } from './api.js';
import { h, show } from './dom.js';
import { webhooksPage } from './event-sections.js';
import { metricsPage } from './metrics.js';
import { reconciliationPage, reviewFlagsPage, reviewPage, sellersPage } from './operations.js';
import { type Capability, endSession, keepSession, type Session, sessionFor, storedSession } from './session.js';

// The console's pages live in the URL's fragment (#/accounts/p-1, #/ops/sellers): the pod serves one
// page, and links, the back button and reloads keep working.

interface Route {
  path: string;
  title: string;
  needs: Capability | 'signed_in';
  /** Draws the page; returns what stops its timers, if it has any. */
  open(main: HTMLElement, session: Session): (() => void) | undefined;
}

const ROUTES: Route[] = [
  { path: '#/', title: 'Find an account', needs: 'read_accounts', open: (main) => searchPage(main) },
  { path: '#/ops/review', title: 'Held for review', needs: 'admin', open: (main, session) => void reviewPage(main, apiFor(session.token)) },
  {
    path: '#/ops/review-flags',
    title: 'AML review flags',
    needs: 'compliance',
    open: (main, session) => void reviewFlagsPage(main, apiFor(session.token)),
  },
  { path: '#/ops/webhooks', title: 'Webhooks', needs: 'admin', open: (main, session) => void webhooksPage(main, apiFor(session.token)) },
  { path: '#/ops/sellers', title: 'Sellers', needs: 'admin', open: (main, session) => sellersPage(main, apiFor(session.token)) },
  {
    path: '#/ops/reconciliation',
    title: 'Reconciliation',
    needs: 'admin',
    open: (main, session) => void reconciliationPage(main, apiFor(session.token)),
  },
  { path: '#/ops/metrics', title: 'Live metrics', needs: 'signed_in', open: (main) => metricsPage(main) },
];

const ACCOUNT_PREFIX = '#/accounts/';
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let stopPage: (() => void) | undefined;

const allowed = (session: Session, needs: Route['needs']) => needs === 'signed_in' || session.can(needs);

function searchPage(target: HTMLElement): undefined {
  const input = h('input', {
    id: 'account-id',
    name: 'account',
    required: true,
    maxlength: 65,
    pattern: '@?[A-Za-z0-9_\\-]{1,64}',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { role: 'search' },
    h('div', { class: 'row' }, h('label', {}, 'Account id', input), h('button', { type: 'submit' }, 'Open account')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `${ACCOUNT_PREFIX}${encodeURIComponent(input.value.trim())}`;
  });
  target.replaceChildren(h('h1', {}, 'Find an account'), h('section', { class: 'card' }, form));
  input.focus();
  return undefined;
}

function signInPage(problem?: string): void {
  nav.replaceChildren();
  who.textContent = '';
  const token = h('textarea', { id: 'token', name: 'token', required: true, spellcheck: 'false', autocomplete: 'off' });
  const message = h('div', { 'aria-live': 'assertive' }, problem ? h('div', { class: 'problem', role: 'alert' }, problem) : null);
  const form = h(
    'form',
    { 'aria-label': 'Sign in' },
    h('label', {}, 'Service token (JWT; npm run -s token -- --sub you --scope admin)', token),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Sign in')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const session = sessionFor(token.value);
    if (typeof session === 'string') {
      show(message, h('div', { class: 'problem', role: 'alert' }, h('strong', {}, 'Cannot sign in'), ' — ', session));
      return;
    }
    keepSession(session);
    route();
  });
  main.replaceChildren(
    h('h1', {}, 'Sign in'),
    h(
      'section',
      { class: 'card' },
      h('p', { class: 'muted' }, 'The token stays in this tab (sessionStorage) and is sent only to this pod.'),
      message,
      form,
    ),
  );
  token.focus();
}

function drawNav(session: Session, current: string): void {
  nav.replaceChildren(
    ...ROUTES.filter((entry) => allowed(session, entry.needs)).map((entry) =>
      h('a', { href: entry.path, 'aria-current': entry.path === current ? 'page' : undefined }, entry.title),
    ),
  );
  const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOut.addEventListener('click', () => {
    endSession();
    location.hash = '#/';
    signInPage();
  });
  show(who, `${session.subject} · ${[...session.scopes].join(' ')} `, signOut);
}

/** A hand-made link with a stray `%` names the account as written rather than leaving the page blank. */
function decodedOrAsIs(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function route(): void {
  stopPage?.();
  stopPage = undefined;
  const session = storedSession();
  if (!session) {
    signInPage();
    return;
  }
  const hash = location.hash || '#/';
  if (hash.startsWith(ACCOUNT_PREFIX) && session.can('read_accounts')) {
    drawNav(session, '#/');
    accountPage(main, apiFor(session.token), session, decodedOrAsIs(hash.slice(ACCOUNT_PREFIX.length)));
  } else {
    const entry =
      ROUTES.find((candidate) => candidate.path === hash && allowed(session, candidate.needs)) ??
      ROUTES.find((candidate) => allowed(session, candidate.needs))!;
    drawNav(session, entry.path);
    stopPage = entry.open(main, session);
  }
  // Keyboard users land on the new page's content, unless the page put the focus somewhere itself.
  if (!main.contains(document.activeElement)) main.focus();
}

window.addEventListener('hashchange', route);
route();
