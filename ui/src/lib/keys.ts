/** The main actions' keyboard shortcuts. */
export type Action = 'apply' | 'rollback' | 'backup_apply' | 'new' | 'refresh' | 'tab' | 'close';

export const SHORTCUTS: Record<string, Action> = {
  a: 'apply',
  r: 'rollback',
  b: 'backup_apply',
  n: 'new',
  F5: 'refresh',
  Escape: 'close',
};

export const TABS = ['status', 'history', 'backups', 'check', 'new', 'schema'] as const;
export type Tab = (typeof TABS)[number];

/** What a key press asks for; nothing while typing in a field (except Escape), or with modifiers. */
export function actionFor(e: { key: string; ctrlKey?: boolean; metaKey?: boolean; altKey?: boolean; target?: unknown }):
  | { action: Action; tab?: Tab }
  | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const t = e.target as { tagName?: string; isContentEditable?: boolean } | null;
  const typing = !!t && (['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName ?? '') || !!t.isContentEditable);
  if (typing && e.key !== 'Escape') return null;
  const n = Number(e.key);
  if (Number.isInteger(n) && n >= 1 && n <= TABS.length) return { action: 'tab', tab: TABS[n - 1] };
  const action = SHORTCUTS[e.key];
  return action ? { action } : null;
}
