import type { Api } from './api.js';
import { problemBox } from './api.js';
import { type Child, h, show, summary } from './dom.js';

export interface Action<T> {
  title: string;
  /** What will happen, shown before anything is sent. */
  details: Array<[string, Child]>;
  confirm_label: string;
  danger?: boolean;
  /** False for a PUT that sets a value: repeating it sets the same value again, so it takes no Idempotency-Key. */
  idempotent?: boolean;
  /** Sends the request (with this Idempotency-Key if the action is idempotent). */
  send(api: Api, idempotency_key: string): Promise<T>;
  /** What to show once it is done. */
  done(result: T): Child;
}

/**
 * The confirmation step of every action: a modal dialog (Escape cancels, focus stays inside) that
 * says what will happen and under which Idempotency-Key. The key is made when the dialog opens and
 * kept while it is open: confirming again after a failure (a lost answer, a 503 the client's retries
 * did not outlast) sends the same key, so the action is applied at most once.
 */
export function confirmAction<T>(api: Api, action: Action<T>, after: () => void): void {
  const idempotency_key = crypto.randomUUID();
  const outcome = h('div', { 'aria-live': 'polite' });
  const confirm = h('button', { type: 'submit', class: action.danger ? 'danger' : undefined }, action.confirm_label);
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', {}, action.title),
    summary([
      ...action.details,
      action.idempotent === false ? ['Repeating it', 'sets the same value again'] : ['Idempotency-Key', h('code', {}, idempotency_key)],
    ]),
    outcome,
    h('div', { class: 'row' }, confirm, cancel),
  );
  const dialog = h('dialog', { 'aria-label': action.title }, form);
  let changed = false;
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (changed) after();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    show(outcome, h('p', { class: 'muted', role: 'status' }, 'Sending…'));
    try {
      const result = await action.send(api, idempotency_key);
      changed = true;
      show(outcome, h('div', { class: 'notice', role: 'status' }, action.done(result)));
      confirm.remove();
      cancel.textContent = 'Close';
      cancel.focus();
    } catch (error) {
      show(outcome, problemBox(error));
      confirm.disabled = false;
      confirm.textContent = action.idempotent === false ? action.confirm_label : `${action.confirm_label} (same key)`;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  confirm.focus();
}

/** A button that opens the confirmation of `action`. */
export function actionButton<T>(api: Api, label: string, action: () => Action<T>, after: () => void): HTMLButtonElement {
  return h('button', { type: 'button', class: 'secondary', onclick: () => confirmAction(api, action(), after) }, label);
}
