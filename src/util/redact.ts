/**
 * A URL fit to print: its password (Redis, PostgreSQL…) replaced by `***`; strings that do not parse as URLs get the
 * same treatment by pattern. One function for every place a connection URL can reach a message or a log.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#]*@/i, '$1***@');
  }
}
