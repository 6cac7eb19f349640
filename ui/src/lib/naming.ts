/** A migration name that says what a built-in template's migration does ("add_email_to_users"),
 * from its parameters; the template's name when they are not filled in yet. */
export function suggestName(template: string, v: Record<string, string>): string {
  const words = (s: string | undefined) => (s ?? '').trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
  const parts: Record<string, (string | undefined)[]> = {
    create_table: ['create', v.table],
    add_column: ['add', v.column, 'to', v.table],
    add_index: ['index', v.table, v.columns],
    rename_column: ['rename', v.table, v.from, 'to', v.to],
    rename_table: ['rename', v.from, 'to', v.to],
    add_foreign_key: ['link', v.table, 'to', v.references],
  };
  const p = parts[template];
  if (!p || p.some((x) => !words(x))) return template;
  return p.map(words).join('_');
}
