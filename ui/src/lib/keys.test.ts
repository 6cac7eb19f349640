import { describe, expect, it } from 'vitest';
import { actionFor } from './keys';

describe('shortcuts', () => {
  it('maps the main actions and tabs', () => {
    expect(actionFor({ key: 'a' })).toEqual({ action: 'apply' });
    expect(actionFor({ key: 'b' })).toEqual({ action: 'backup_apply' });
    expect(actionFor({ key: '3' })).toEqual({ action: 'tab', tab: 'backups' });
    expect(actionFor({ key: 'x' })).toBeNull();
  });
  it('stays out of the way while typing, but Escape still closes', () => {
    expect(actionFor({ key: 'a', target: { tagName: 'INPUT' } })).toBeNull();
    expect(actionFor({ key: 'r', target: { isContentEditable: true } })).toBeNull();
    expect(actionFor({ key: 'Escape', target: { tagName: 'TEXTAREA' } })).toEqual({ action: 'close' });
    expect(actionFor({ key: 'a', ctrlKey: true })).toBeNull();
  });
});
