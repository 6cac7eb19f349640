/** Splits a password out of a database URL typed into the form: the URL is kept without it (it
 * goes to godwit.toml) and the password goes to the keyring. `null` when the URL holds none. */
export function splitPassword(url: string): { url: string; password: string } | null {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return null;
  }
  if (!u.password) return null;
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
}
