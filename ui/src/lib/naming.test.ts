import { describe, expect, it } from 'vitest';
import { suggestName } from './naming';

describe('suggestName', () => {
  it('names a migration after what it does', () => {
    expect(suggestName('add_column', { table: 'users', column: 'email' })).toBe('add_email_to_users');
    expect(suggestName('create_table', { table: 'Order Lines' })).toBe('create_order_lines');
    expect(suggestName('add_index', { table: 'orders', columns: 'user_id, created_at' })).toBe('index_orders_user_id_created_at');
  });
  it('keeps the template name until the parameters are there', () => {
    expect(suggestName('add_column', { table: 'users', column: '' })).toBe('add_column');
    expect(suggestName('raw', {})).toBe('raw');
  });
});
